// Text normalization for brand matching: NFKC, optional case folding and whitespace collapsing, with a map
// from every normalized UTF-16 code unit back to the original text. Offsets reported to callers must point
// into the ORIGINAL post (that is what a UI highlights and what mentions.ts cuts), while matching happens on
// the normalized text, whose length differs: "ﬁ" → "fi", "Ｋ" → "K", "ß" → "ss", "e\u0301" → "é".

export interface NormalizedText {
  /** The normalized text that patterns are matched against. */
  readonly text: string;
  /** For normalized code unit i: the original range [startOf(i), endOf(i)) it came from. */
  startOf(i: number): number;
  endOf(i: number): number;
}

// A base character and the combining marks after it normalize together (NFKC composes "e"+U+0301 into "é"),
// so each segment is normalized on its own. Segments never span a word boundary, so per-segment
// normalization gives the same word boundaries as normalizing the whole text. Known gap: conjoining Hangul
// jamo (L+V+T, which are not marks) are composed only within a segment, i.e. not at all.
const kSegment = /\s+|[^\s](?:\p{M}|\u200d)*/gsu; // \p{M} includes the emoji variation selector U+FE0F
const kAsciiFast = /^[\x20-\x7e]$/;
// Printable ASCII with no run of spaces is its own NFKC form and folds with toLowerCase, code unit for code
// unit: most posts take this path, which skips the per-character segmenting (the matcher's largest cost).
const kPlainAscii = /^[\x20-\x7e]*$/;

/**
 * Normalizes `text` with NFKC; with `fold`, case-folds too (upper-then-lower per segment approximates Unicode
 * full case folding: "ß" → "ss", final "ς" → "σ", which toLowerCase alone misses). Whitespace runs become
 * one space, so the alias "copper kettle" matches "copper\n  kettle".
 */
export function normalize(text: string, fold: boolean): NormalizedText {
  if (kPlainAscii.test(text) && !text.includes('  ')) return plainAscii(text, fold);
  let out = '';
  // Normalized text is rarely longer than 2x the original (ligatures and compatibility forms can expand, up
  // to 18x for U+FDFA); the arrays grow on demand when it is.
  let origStart = new Int32Array(text.length + 16);
  let origEnd = new Int32Array(text.length + 16);
  let n = 0;
  kSegment.lastIndex = 0;
  for (let m = kSegment.exec(text); m !== null; m = kSegment.exec(text)) {
    const seg = m[0];
    const start = m.index;
    const end = start + seg.length;
    let norm: string;
    if (seg.length === 1 && kAsciiFast.test(seg)) norm = fold ? seg.toLowerCase() : seg;
    else if (/^\s/u.test(seg)) norm = ' ';
    else {
      norm = seg.normalize('NFKC');
      if (fold) norm = norm.toUpperCase().toLowerCase().normalize('NFKC');
    }
    if (n + norm.length > origStart.length) {
      const size = Math.max(origStart.length * 2, n + norm.length);
      const s2 = new Int32Array(size);
      const e2 = new Int32Array(size);
      s2.set(origStart);
      e2.set(origEnd);
      origStart = s2;
      origEnd = e2;
    }
    for (let k = 0; k < norm.length; k++) {
      origStart[n] = start;
      origEnd[n] = end;
      n++;
    }
    out += norm;
  }
  const starts = origStart.subarray(0, n);
  const ends = origEnd.subarray(0, n);
  return { text: out, startOf: (i) => starts[i] as number, endOf: (i) => ends[i] as number };
}

const identityStart = (i: number): number => i;
const identityEnd = (i: number): number => i + 1;

// No offset arrays here: typed arrays per post were most of what this path still cost (allocation and GC).
function plainAscii(text: string, fold: boolean): NormalizedText {
  return { text: fold ? text.toLowerCase() : text, startOf: identityStart, endOf: identityEnd };
}

/** Normalizes a pattern (alias, exclude phrase, query term) exactly as a post is normalized, and trims it. */
export function normalizePattern(pattern: string, fold: boolean): string {
  return normalize(pattern.trim(), fold).text;
}

const kWordChar = /[\p{L}\p{N}\p{M}]/u;

/** Letters, digits and marks of any script: what may not touch a whole-word match. */
export function isWordChar(ch: string): boolean {
  return kWordChar.test(ch);
}

/** The code point (as a string) that ends just before index i, or '' at the start. */
export function charBefore(text: string, i: number): string {
  if (i <= 0) return '';
  const lo = text.charCodeAt(i - 1);
  if (lo >= 0xdc00 && lo <= 0xdfff && i >= 2) {
    const hi = text.charCodeAt(i - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return text.slice(i - 2, i);
  }
  return text.slice(i - 1, i);
}

/** The code point (as a string) that starts at index i, or '' at the end. */
export function charAt(text: string, i: number): string {
  if (i >= text.length) return '';
  const cp = text.codePointAt(i) as number;
  return String.fromCodePoint(cp);
}

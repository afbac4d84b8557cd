// A compact Aho–Corasick automaton over UTF-16 code units: one pass over the text finds every occurrence of
// every pattern, so matching 1,000 brands × 10 aliases costs O(text + matches), not a regex per alias.
//
// Own implementation rather than an npm package: the maintained ones (e.g. `modern-ahocorasick`,
// `@monyone/aho-corasick`) return matched strings or code-point positions, while we need code-unit end
// offsets into a *normalized* text (mapped back to the original by normalize.ts) and integer pattern ids to
// check word boundaries per pattern. That is ~80 lines, tested through matcher.ts.

export interface AhoHit {
  /** Index of the pattern in the list given to the constructor. */
  readonly pattern: number;
  /** Start and end (exclusive) code-unit offsets in the searched text. */
  readonly start: number;
  readonly end: number;
}

export class AhoCorasick {
  // Node 0 is the root. `next[n]` maps a code unit to the child node; `fail[n]` is the longest proper
  // suffix of n's string that is also a prefix of some pattern; `out[n]` lists patterns ending exactly at
  // n, and `dict[n]` is the nearest node on n's fail chain with a non-empty `out` (-1 if none), so
  // reporting walks only nodes that actually hold matches.
  readonly #next: Map<number, number>[] = [new Map()];
  readonly #fail: number[] = [0];
  readonly #out: number[][] = [[]];
  readonly #dict: number[] = [-1];
  readonly #lengths: number[];

  constructor(patterns: readonly string[]) {
    this.#lengths = patterns.map((p) => p.length);
    patterns.forEach((p, id) => {
      if (p.length === 0) return; // an empty pattern would match everywhere; config forbids it
      let node = 0;
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        let child = this.#next[node]?.get(c);
        if (child === undefined) {
          child = this.#next.length;
          this.#next.push(new Map());
          this.#fail.push(0);
          this.#out.push([]);
          this.#dict.push(-1);
          this.#next[node]?.set(c, child);
        }
        node = child;
      }
      this.#out[node]?.push(id);
    });
    this.#link();
  }

  /** Breadth-first, so a node's fail target (shallower) is final before the node is visited. */
  #link(): void {
    const queue: number[] = [];
    for (const child of (this.#next[0] as Map<number, number>).values()) queue.push(child);
    for (let qi = 0; qi < queue.length; qi++) {
      const node = queue[qi] as number;
      for (const [c, child] of this.#next[node] as Map<number, number>) {
        let f = this.#fail[node] as number;
        while (f !== 0 && !(this.#next[f] as Map<number, number>).has(c)) f = this.#fail[f] as number;
        const target = (this.#next[f] as Map<number, number>).get(c);
        const fc = target !== undefined && target !== child ? target : 0;
        this.#fail[child] = fc;
        this.#dict[child] = (this.#out[fc] as number[]).length > 0 ? fc : (this.#dict[fc] as number);
        queue.push(child);
      }
    }
  }

  /** Every occurrence of every pattern in `text`, in order of end offset. */
  search(text: string): AhoHit[] {
    const hits: AhoHit[] = [];
    let node = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      for (;;) {
        const child = (this.#next[node] as Map<number, number>).get(c);
        if (child !== undefined) {
          node = child;
          break;
        }
        if (node === 0) break;
        node = this.#fail[node] as number;
      }
      for (let n = (this.#out[node] as number[]).length > 0 ? node : (this.#dict[node] as number); n > 0; n = this.#dict[n] as number) {
        for (const pattern of this.#out[n] as number[]) hits.push({ pattern, start: i + 1 - (this.#lengths[pattern] as number), end: i + 1 });
      }
    }
    return hits;
  }

  get nodeCount(): number {
    return this.#next.length;
  }
}

// Evaluation figures of a classifier on a labeled set: accuracy, per-class precision/recall/F1, the confusion
// matrix and, when the labels include "negative" and "positive", binary accuracy. Pure functions (no I/O):
// `klassify compile --eval-report` prints them for the source and the compiled model. The Python recipe's twin
// is training/evalmetrics.py; both are tested on test/fixtures/eval-report/confusion-fixture.json.
//
// Definitions (the same in both):
// - predicted label = argmax over all logits (ties go to the first label);
// - confusion[gold][predicted], rows = gold labels, columns = predicted labels;
// - binary accuracy = over the gold negative/positive items only, argmax over the negative and positive logits
//   alone (the neutral logit is ignored), so a model that says "neutral" for a clear review is judged on
//   which side it leans to;
// - macro-F1 averages the classes that have gold items (a binary set has no neutral gold).

export interface ClassFigures {
  label: string;
  /** Gold items of this class. */
  support: number;
  /** Items predicted as this class. */
  predicted: number;
  correct: number;
  /** correct / predicted (0 when nothing was predicted as this class). */
  precision: number;
  /** correct / support (0 when the class has no gold items). */
  recall: number;
  f1: number;
}

export interface BinaryFigures {
  negative: string;
  positive: string;
  count: number;
  correct: number;
  accuracy: number;
  /** [[gold neg → neg, gold neg → pos], [gold pos → neg, gold pos → pos]] */
  confusion: [[number, number], [number, number]];
}

export interface EvalReport {
  labels: string[];
  count: number;
  correct: number;
  accuracy: number;
  macroF1: number;
  perClass: ClassFigures[];
  /** confusion[gold][predicted] */
  confusion: number[][];
  binary?: BinaryFigures;
}

export interface BinaryLabels {
  negative: string;
  positive: string;
}

const DEFAULT_BINARY: BinaryLabels = { negative: 'negative', positive: 'positive' };

/**
 * Figures for `logits` (row-major, `labels.length` per item, as ModelRunner returns them) against gold label
 * indices. `binary` names the two polar labels; binary figures are left out when either is not a label.
 */
export function evalReport(logits: Float32Array | readonly number[], gold: readonly number[], labels: readonly string[], binary: BinaryLabels = DEFAULT_BINARY): EvalReport {
  const k = labels.length;
  if (k < 2) throw new RangeError(`evalReport: need at least 2 labels, got ${k}`);
  if (logits.length !== gold.length * k) throw new RangeError(`evalReport: ${logits.length} logits for ${gold.length} items × ${k} labels`);
  const at = (row: number, col: number): number => logits[row * k + col] as number;
  const confusion = labels.map(() => labels.map(() => 0));
  gold.forEach((g, row) => {
    if (!Number.isInteger(g) || g < 0 || g >= k) throw new RangeError(`evalReport: gold label index ${g} at item ${row} is not in 0..${k - 1}`);
    let best = 0;
    for (let c = 1; c < k; c++) if (at(row, c) > at(row, best)) best = c;
    const counts = confusion[g] as number[];
    counts[best] = (counts[best] as number) + 1;
  });
  const perClass = labels.map((label, i): ClassFigures => {
    const support = (confusion[i] as number[]).reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, r) => a + (r[i] as number), 0);
    const correct = (confusion[i] as number[])[i] as number;
    const precision = predicted > 0 ? correct / predicted : 0;
    const recall = support > 0 ? correct / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, support, predicted, correct, precision, recall, f1 };
  });
  const correct = perClass.reduce((a, c) => a + c.correct, 0);
  const withGold = perClass.filter((c) => c.support > 0);
  const report: EvalReport = {
    labels: [...labels],
    count: gold.length,
    correct,
    accuracy: gold.length > 0 ? correct / gold.length : 0,
    macroF1: withGold.length > 0 ? withGold.reduce((a, c) => a + c.f1, 0) / withGold.length : 0,
    perClass,
    confusion,
  };
  const ni = labels.indexOf(binary.negative);
  const pi = labels.indexOf(binary.positive);
  if (ni >= 0 && pi >= 0 && ni !== pi) {
    const m: [[number, number], [number, number]] = [[0, 0], [0, 0]];
    gold.forEach((g, row) => {
      if (g !== ni && g !== pi) return;
      m[g === ni ? 0 : 1][at(row, pi) > at(row, ni) ? 1 : 0] += 1;
    });
    const count = m[0][0] + m[0][1] + m[1][0] + m[1][1];
    const ok = m[0][0] + m[1][1];
    report.binary = { ...binary, count, correct: ok, accuracy: count > 0 ? ok / count : 0, confusion: m };
  }
  return report;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/**
 * Markdown lines (readable as plain text in a terminal): a headline, a per-class table and the confusion matrix.
 * Precision/recall print "–" where undefined (nothing predicted / no gold items).
 */
export function renderEvalReport(r: EvalReport, title: string): string[] {
  const head = [`${title}: ${r.count} labeled texts, accuracy ${pct(r.accuracy)} (${r.correct}/${r.count}), macro-F1 ${r.macroF1.toFixed(3)}`];
  if (r.binary) head[0] += `, binary ${r.binary.negative}/${r.binary.positive} ${pct(r.binary.accuracy)} (${r.binary.correct}/${r.binary.count})`;
  const lines = [...head, '', '| class | precision | recall | F1 | gold | predicted |', '|---|---:|---:|---:|---:|---:|'];
  for (const c of r.perClass) {
    lines.push(`| ${c.label} | ${c.predicted > 0 ? pct(c.precision) : '–'} | ${c.support > 0 ? pct(c.recall) : '–'} | ${c.f1.toFixed(3)} | ${c.support} | ${c.predicted} |`);
  }
  lines.push('', `| gold \\ predicted | ${r.labels.join(' | ')} |`, `|---|${r.labels.map(() => '---:').join('|')}|`);
  r.labels.forEach((label, i) => lines.push(`| ${label} | ${(r.confusion[i] as number[]).join(' | ')} |`));
  lines.push('');
  return lines;
}

/** Parses the confusion-matrix rows back out of renderEvalReport's lines (for tests and scripts). */
export function parseConfusion(lines: readonly string[], labels: readonly string[]): number[][] {
  const start = lines.findIndex((l) => l.startsWith('| gold \\ predicted |'));
  if (start < 0) throw new Error('no confusion matrix in the report');
  return labels.map((label, i) => {
    const row = lines[start + 2 + i] ?? '';
    const cells = row.split('|').slice(1, -1).map((c) => c.trim());
    if (cells[0] !== label) throw new Error(`confusion row ${i} is "${row}", expected label ${label}`);
    return cells.slice(1).map(Number);
  });
}

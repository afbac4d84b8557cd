// The texts the parity gate runs through both models: a user's JSONL file, or the built-in set.
//
// A file is either labeled ({"text","label"} on every line: accuracy of both models is compared) or
// unlabeled ({"text"} on every line: only label agreement). Mixing the two would make "accuracy" silently
// mean "accuracy on some of the lines", so it is refused.
import { readFileSync } from 'node:fs';
import { EvalSetError } from '../errors.js';
import { BUILTIN_EVAL_TEXTS } from './builtin-texts.js';

export interface EvalSet {
  /** Where the texts came from, for the manifest and the report. */
  description: string;
  texts: string[];
  /** Gold label index per text (into the model's labels), for a labeled set. */
  gold?: number[];
}

export function builtinEvalSet(): EvalSet {
  return { description: `built-in set of ${BUILTIN_EVAL_TEXTS.length} varied English texts (unlabeled)`, texts: [...BUILTIN_EVAL_TEXTS] };
}

export function loadEvalSet(path: string, labels: readonly string[]): EvalSet {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (err) {
    throw new EvalSetError(`cannot read evaluation set ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  const texts: string[] = [];
  const gold: (number | undefined)[] = [];
  const lines = content.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${path}:${i + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new EvalSetError(`${where}: not a JSON object (expected {"text": ..., "label": ...})`);
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new EvalSetError(`${where}: not a JSON object`);
    const { text, label } = row as { text?: unknown; label?: unknown };
    if (typeof text !== 'string' || text.trim() === '') throw new EvalSetError(`${where}: "text" must be a non-empty string`);
    texts.push(text);
    if (label === undefined || label === null) {
      gold.push(undefined);
      return;
    }
    const index = typeof label === 'string' ? labels.indexOf(label) : -1;
    if (index < 0) throw new EvalSetError(`${where}: label ${JSON.stringify(label)} is not one of the model's labels (${labels.join(', ')})`);
    gold.push(index);
  });
  if (texts.length === 0) throw new EvalSetError(`evaluation set ${path} has no texts`);
  const labeled = gold.filter((g) => g !== undefined).length;
  if (labeled === 0) return { description: `${path} (${texts.length} unlabeled texts)`, texts };
  if (labeled !== texts.length) {
    throw new EvalSetError(`${path}: ${labeled} of ${texts.length} lines have a label; label every line (accuracy) or none (agreement only)`);
  }
  return { description: `${path} (${texts.length} labeled texts)`, texts, gold: gold as number[] };
}

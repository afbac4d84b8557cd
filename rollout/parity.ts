// The swap gate's arithmetic, pure: how often the candidate picks the live model's label on the same
// texts, overall and per live label, and whether that clears the thresholds. No model runs here.
import { isFailure, type ClassifyOutcome } from '../src/model/classifier.js';

export interface ClassAgreement {
  /** A label of the live model: these figures cover the texts it gave this label. */
  label: string;
  texts: number;
  agreed: number;
  /** agreed / texts; 1 for a class with no texts (nothing to disagree on). */
  agreement: number;
  /** Texts of this class the candidate failed on (counted as disagreements). */
  candidateFailures: number;
}

export interface AgreementFigures {
  labels: readonly string[];
  /** Texts the live model classified: the base of every share below. */
  compared: number;
  agreed: number;
  /** agreed / compared; 0 when nothing was compared, so an empty comparison can never pass. */
  agreement: number;
  /** Texts the live model itself failed on: left out, the candidate cannot be judged on them. */
  liveFailures: number;
  /** Texts the live model classified and the candidate did not: disagreements. */
  candidateFailures: number;
  /** In label order, by the live model's label. */
  perClass: ClassAgreement[];
  /** confusion[i][j]: texts the live model labelled labels[i] and the candidate labels[j]. */
  confusion: number[][];
}

export interface GateThresholds {
  /** Least overall agreement. */
  minAgreement: number;
  /** Least agreement within one live class with at least `minClassTexts` texts. */
  minClassAgreement: number;
  /** Below this many texts a class is reported but not gated: a few texts make a noisy share. */
  minClassTexts: number;
}

export interface GateVerdict {
  passed: boolean;
  /** One sentence per threshold missed; empty when passed. */
  failures: string[];
}

/** Same labels in the same order: results name labels, and score vectors are read by position. */
export function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((label, i) => label === b[i]);
}

/** Compares the candidate's outcomes with the live model's on the same texts (same order). */
export function compareOutcomes(labels: readonly string[], live: readonly ClassifyOutcome[], candidate: readonly ClassifyOutcome[]): AgreementFigures {
  if (live.length !== candidate.length) throw new RangeError(`live and candidate outcomes differ in length: ${live.length} vs ${candidate.length}`);
  const index = new Map(labels.map((l, i) => [l, i]));
  const confusion = labels.map(() => labels.map(() => 0));
  const failedIn = labels.map(() => 0);
  let liveFailures = 0;
  let candidateFailures = 0;
  for (let k = 0; k < live.length; k++) {
    const l = live[k] as ClassifyOutcome;
    const c = candidate[k] as ClassifyOutcome;
    if (isFailure(l)) {
      liveFailures++;
      continue;
    }
    const i = index.get(l.label);
    if (i === undefined) throw new RangeError(`live outcome ${k} has label "${l.label}", not one of ${labels.join(', ')}`);
    const j = isFailure(c) ? undefined : index.get(c.label);
    if (j === undefined) {
      // A failure, or a label outside the set (sameLabels was checked first, so only a broken classifier).
      candidateFailures++;
      failedIn[i] = (failedIn[i] as number) + 1;
      continue;
    }
    const row = confusion[i] as number[];
    row[j] = (row[j] as number) + 1;
  }
  const perClass = labels.map((label, i): ClassAgreement => {
    const row = confusion[i] as number[];
    const candidateFailuresHere = failedIn[i] as number;
    const texts = row.reduce((a, b) => a + b, 0) + candidateFailuresHere;
    const agreed = row[i] as number;
    return { label, texts, agreed, agreement: texts === 0 ? 1 : agreed / texts, candidateFailures: candidateFailuresHere };
  });
  const compared = live.length - liveFailures;
  const agreed = perClass.reduce((a, c) => a + c.agreed, 0);
  return { labels: [...labels], compared, agreed, agreement: compared === 0 ? 0 : agreed / compared, liveFailures, candidateFailures, perClass, confusion };
}

export function judge(figures: AgreementFigures, t: GateThresholds): GateVerdict {
  const failures: string[] = [];
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  if (figures.agreement < t.minAgreement) {
    failures.push(`agreement ${pct(figures.agreement)} (${figures.agreed}/${figures.compared}) is below ${pct(t.minAgreement)}`);
  }
  // Overall agreement can hide a class the candidate has lost (a rare label flipped wholesale).
  for (const c of figures.perClass) {
    if (c.texts >= t.minClassTexts && c.agreement < t.minClassAgreement) {
      failures.push(`on texts the live model labels "${c.label}": agreement ${pct(c.agreement)} (${c.agreed}/${c.texts}) is below ${pct(t.minClassAgreement)}`);
    }
  }
  return { passed: failures.length === 0, failures };
}

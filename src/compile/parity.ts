// The accuracy-parity gate: a compiled model may be faster, but it must pick the same labels as its source.
// Refused (KLS_ERR_PARITY_GATE) when label agreement falls below `minAgreement`, or, on a labeled set, when
// accuracy drops by more than `maxAccuracyDrop`; --force writes it anyway and the manifest says so.
import { ParityGateError } from '../errors.js';
import type { ModelManifest } from '../model/manifest.js';

export type Parity = NonNullable<ModelManifest['parity']>;

export interface ParityGate {
  /** Least share of texts on which both models pick the same label. Default 0.99. */
  minAgreement: number;
  /** Largest accepted accuracy loss (0.01 = one point). Default 0.01. */
  maxAccuracyDrop: number;
}

export const DEFAULT_GATE: ParityGate = Object.freeze({ minAgreement: 0.99, maxAccuracyDrop: 0.01 });

// Agreement and accuracy are ratios of counts: compare with a little slack so that exactly 99% passes.
const EPSILON = 1e-9;

export function argmaxRows(logits: Float32Array, labels: number): number[] {
  const rows = logits.length / labels;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < labels; c++) if ((logits[r * labels + c] as number) > (logits[r * labels + best] as number)) best = c;
    out.push(best);
  }
  return out;
}

export interface ParityInput {
  source: Float32Array;
  compiled: Float32Array;
  labels: number;
  gold?: readonly number[] | undefined;
  evalSet: string;
  gate: ParityGate;
  force: boolean;
}

/** Compares the two models' logits and judges them against the gate (does not throw; see enforceParity). */
export function measureParity(input: ParityInput): Parity {
  const a = argmaxRows(input.source, input.labels);
  const b = argmaxRows(input.compiled, input.labels);
  const count = a.length;
  const agree = a.filter((label, i) => label === b[i]).length;
  let maxAbsLogitDiff = 0;
  for (let i = 0; i < input.source.length; i++) {
    const d = Math.abs((input.source[i] as number) - (input.compiled[i] as number));
    // NaN must fail loudly, not vanish in a comparison.
    if (!(d <= maxAbsLogitDiff)) maxAbsLogitDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  const parity: Parity = {
    evalSet: input.evalSet,
    count,
    labeled: input.gold !== undefined,
    agreement: count === 0 ? 0 : agree / count,
    maxAbsLogitDiff: Number.isFinite(maxAbsLogitDiff) ? maxAbsLogitDiff : Number.MAX_VALUE,
    minAgreement: input.gate.minAgreement,
    maxAccuracyDrop: input.gate.maxAccuracyDrop,
    passed: false,
    forced: false,
  };
  if (input.gold !== undefined) {
    const gold = input.gold;
    parity.sourceAccuracy = a.filter((label, i) => label === gold[i]).length / count;
    parity.compiledAccuracy = b.filter((label, i) => label === gold[i]).length / count;
  }
  parity.passed = failures(parity).length === 0;
  parity.forced = !parity.passed && input.force;
  return parity;
}

/** Why a parity result fails the gate; empty when it passes. */
export function failures(parity: Parity): string[] {
  const out: string[] = [];
  if (parity.agreement + EPSILON < parity.minAgreement) {
    out.push(`label agreement ${pct(parity.agreement)} is below ${pct(parity.minAgreement)}`);
  }
  if (parity.sourceAccuracy !== undefined && parity.compiledAccuracy !== undefined) {
    const drop = parity.sourceAccuracy - parity.compiledAccuracy;
    if (drop > parity.maxAccuracyDrop + EPSILON) {
      out.push(`accuracy drops from ${pct(parity.sourceAccuracy)} to ${pct(parity.compiledAccuracy)} (more than ${(parity.maxAccuracyDrop * 100).toFixed(1)} points)`);
    }
  }
  if (parity.maxAbsLogitDiff >= Number.MAX_VALUE) out.push('the compiled model returns non-finite logits');
  return out;
}

/** Throws KLS_ERR_PARITY_GATE for a failed, unforced result. */
export function enforceParity(parity: Parity, target: string): void {
  if (parity.passed || parity.forced) return;
  throw new ParityGateError(
    `the ${target} model disagrees with its source on ${parity.evalSet}: ${failures(parity).join('; ')}. ` +
      'Nothing was written. Use --force to write it anyway (the manifest will say parity.forced=true).',
  );
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

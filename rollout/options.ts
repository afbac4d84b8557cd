// SwappableClassifier's options, checked once at the edge (a TypeError/RangeError names the option);
// inside, everything takes ResolvedSwapOptions.
import type { Classifier } from '../src/model/classifier.js';
import type { GateThresholds } from './parity.js';

/** Loads a candidate model folder as a ready Classifier; rejects when it cannot (manifest, file, load). */
export type CandidateFactory = (modelDir: string) => Promise<Classifier>;

export interface SwapOptions {
  /** The classifier serving now. */
  live: Classifier;
  /** How a candidate is loaded (the app: createClassifier with config.model.dir replaced, see candidate-factory.ts). */
  load: CandidateFactory;
  /** Recent live texts kept as the parity sample. Default 512. */
  sampleSize?: number;
  /**
   * Fewest texts the gate compares on. Default 32. With fewer recent live texts the swap is refused
   * (KLS_ERR_SWAP_SAMPLE) unless `fallbackSample` tops it up: a gate that compared nothing would wave
   * anything through.
   */
  minSample?: number;
  /**
   * Texts added to the sample when fewer than `minSample` live texts were seen (a fresh or quiet
   * service). Default none: refuse, and say so. A generic set is weaker evidence than live traffic, so it
   * is only used when asked for; the result reports how many texts came from each.
   */
  fallbackSample?: readonly string[];
  /** Least share of sample texts on which the candidate picks the live label. Default 0.9. */
  minAgreement?: number;
  /** Least agreement within one live label's texts. Default 0.8. */
  minClassAgreement?: number;
  /** Live labels with fewer sample texts than this are reported but not gated. Default 16. */
  minClassTexts?: number;
  /**
   * After the switch, how long the old model's running calls may take before it is closed anyway (its own
   * close then fails what is left). Default 30 s, the pool's own close timeout.
   */
  drainTimeoutMs?: number;
}

export interface ResolvedSwapOptions extends GateThresholds {
  readonly load: CandidateFactory;
  readonly sampleSize: number;
  readonly minSample: number;
  readonly fallbackSample: readonly string[];
  readonly drainTimeoutMs: number;
}

function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`options.${name} must be a positive integer, got ${String(value)}`);
  if (value < 1) throw new RangeError(`options.${name} must be a positive integer, got ${value}`);
  return value;
}

function share(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`options.${name} must be a number in [0, 1], got ${String(value)}`);
  if (value < 0 || value > 1) throw new RangeError(`options.${name} must be in [0, 1], got ${value}`);
  return value;
}

export function resolveSwapOptions(o: SwapOptions): ResolvedSwapOptions {
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  if (o.live === null || typeof o.live !== 'object' || typeof o.live.classify !== 'function') throw new TypeError('options.live must be a Classifier');
  if (typeof o.load !== 'function') throw new TypeError('options.load must be a function (modelDir) => Promise<Classifier>');
  const fallbackSample = [...(o.fallbackSample ?? [])];
  if (fallbackSample.some((t) => typeof t !== 'string')) throw new TypeError('options.fallbackSample must hold strings');
  const sampleSize = positiveInt('sampleSize', o.sampleSize, 512);
  const minSample = positiveInt('minSample', o.minSample, 32);
  // Otherwise live traffic alone could never fill the sample.
  if (minSample > sampleSize) throw new RangeError(`options.minSample (${minSample}) must not exceed options.sampleSize (${sampleSize})`);
  return Object.freeze({
    load: o.load,
    sampleSize,
    minSample,
    fallbackSample: Object.freeze(fallbackSample),
    minAgreement: share('minAgreement', o.minAgreement, 0.9),
    minClassAgreement: share('minClassAgreement', o.minClassAgreement, 0.8),
    minClassTexts: positiveInt('minClassTexts', o.minClassTexts, 16),
    drainTimeoutMs: positiveInt('drainTimeoutMs', o.drainTimeoutMs, 30_000),
  });
}

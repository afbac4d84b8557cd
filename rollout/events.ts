// What a swap answers and reports: one typed result per swap() call, and the same result as an event
// for metrics and logs to subscribe to (this folder never imports prom-client). snake_case event names,
// like the pool's and the pipeline's.
import type { KlassifyError } from '../src/errors.js';
import type { ModelInfo } from '../src/model/classifier.js';
import type { AgreementFigures } from './parity.js';

/** Where a swap stopped: the step that refused it. */
export type SwapStage = 'busy' | 'closed' | 'load' | 'labels' | 'sample' | 'parity';

export interface SampleFigures {
  /** Texts compared: live + fallback. */
  texts: number;
  /** Of them, recent live texts. */
  live: number;
  /** Of them, from the fallback sample (only when live texts were fewer than minSample). */
  fallback: number;
}

/** Milliseconds per step; a step not reached is absent. */
export interface SwapTimings {
  loadMs?: number;
  parityMs?: number;
  /** From the switch until the old model's running calls settled. */
  drainMs?: number;
  totalMs: number;
}

interface SwapOutcomeBase {
  /** The folder asked for. */
  dir: string;
  /** The model serving when the swap started. */
  from: ModelInfo;
  sample?: SampleFigures;
  figures?: AgreementFigures;
  timings: SwapTimings;
}

export interface SwapAccepted extends SwapOutcomeBase {
  accepted: true;
  /** The model serving now. */
  to: ModelInfo;
  sample: SampleFigures;
  figures: AgreementFigures;
  /** False when the old model's calls outlasted drainTimeoutMs and it was closed with calls running. */
  drained: boolean;
}

export interface SwapRefused extends SwapOutcomeBase {
  accepted: false;
  stage: SwapStage;
  /** A stable code from src/errors.ts (KLS_ERR_SWAP_*, or KLS_ERR_POOL_CLOSED once closing). */
  code: string;
  /** One sentence for a person: what was wrong and what to do. */
  reason: string;
  /** The same as a typed error (its `retriable` says whether asking again later can help). */
  error: KlassifyError;
  /** The candidate, when it loaded. */
  candidate?: ModelInfo;
}

export type SwapResult = SwapAccepted | SwapRefused;

export interface SwapEventMap {
  /** A swap began loading `dir`. */
  swap_started: [{ dir: string; from: ModelInfo }];
  /** New classify calls now go to `to`; the old model is draining. */
  swap_switched: [{ dir: string; from: ModelInfo; to: ModelInfo }];
  /** The swap finished: the old model is closed. */
  swap_accepted: [SwapAccepted];
  /** The swap was refused; the live model keeps serving. */
  swap_refused: [SwapRefused];
}

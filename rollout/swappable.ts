// A Classifier whose model can be replaced while it serves (issue #16: hot swap with a gate).
//
//   classify(texts) ─► the live model at call time (a call never changes model halfway)
//   swap(dir) ─► load candidate ─► same labels? ─► parity on recent live answers ─► switch ─► drain old ─► close old
//                     └──────────── any refusal: close the candidate, keep serving ─────────────┘
//
// One swap at a time, held from the load until the old model is closed: at most two models are ever
// loaded (the live one and one candidate, or the new one and the draining old one).
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import {
  codeOf,
  messageOf,
  PoolClosedError,
  SwapBusyError,
  SwapLabelsError,
  SwapLoadError,
  SwapParityError,
  SwapSampleError,
  type KlassifyError,
} from '../src/errors.js';
import { classifyPatiently } from '../src/model/classify-patiently.js';
import { isFailure, type BatchTimings, type Classifier, type ClassifierHealth, type ClassifyOutcome, type ModelInfo } from '../src/model/classifier.js';
import type { SampleFigures, SwapAccepted, SwapEventMap, SwapRefused, SwapResult, SwapStage, SwapTimings } from './events.js';
import { InFlight } from './in-flight.js';
import { resolveSwapOptions, type ResolvedSwapOptions, type SwapOptions } from './options.js';
import { compareOutcomes, judge, sameLabels, type AgreementFigures } from './parity.js';
import { RecentAnswers } from './recent-answers.js';

/** A loaded model and what is running on it. */
interface Loaded {
  readonly classifier: Classifier;
  readonly inFlight: InFlight;
  /** Its recent answers: the parity sample while it is live. */
  readonly recent: RecentAnswers;
  /** Stops forwarding its batch timings. */
  unsubscribe: () => void;
}

/** A candidate that passed the gate, with the evidence. */
interface Checked {
  sample: SampleFigures;
  figures: AgreementFigures;
  /** The sample and the candidate's answers on it: its parity sample from the switch on. */
  texts: string[];
  answers: ClassifyOutcome[];
}

const closedDuringSwap = (): Refusal => ({ stage: 'closed', error: new PoolClosedError('the classifier was closed during the swap') });

interface Refusal {
  stage: SwapStage;
  error: KlassifyError;
  candidate?: ModelInfo | undefined;
  sample?: SampleFigures | undefined;
  figures?: AgreementFigures | undefined;
}

/**
 * The candidate's answers, a few texts at a time: one call of the whole sample would occupy every
 * candidate worker at once, on the cores the live workers serve traffic from; chunk by chunk, at most
 * one candidate worker competes with them and the output slows instead of stopping.
 */
const PARITY_CHUNK = 32;

async function inChunks(candidate: Classifier, texts: readonly string[], stopping: () => boolean): Promise<ClassifyOutcome[]> {
  const out: ClassifyOutcome[] = [];
  for (let i = 0; i < texts.length; i += PARITY_CHUNK) out.push(...(await classifyPatiently(candidate, texts.slice(i, i + PARITY_CHUNK), stopping)));
  return out;
}

export class SwappableClassifier extends EventEmitter<SwapEventMap> implements Classifier {
  readonly options: ResolvedSwapOptions;
  #live: Loaded;
  readonly #batchListeners = new Set<(timings: BatchTimings) => void>();
  #swap: Promise<SwapResult> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: SwapOptions) {
    super();
    this.options = resolveSwapOptions(options);
    this.#live = this.#adopt(options.live);
  }

  /** The live model: the one a classify() call made now would use. */
  get model(): ModelInfo {
    return this.#live.classifier.model;
  }

  /** True while a swap is loading, checking or draining. */
  get swapping(): boolean {
    return this.#swap !== undefined;
  }

  /** Recent live answers held for the parity sample. */
  get sampleSize(): number {
    return this.#live.recent.size;
  }

  /** Each Classification carries the ModelInfo of the model that produced it, which may no longer be live. */
  async classify(texts: readonly string[]): Promise<ClassifyOutcome[]> {
    if (this.#closed) throw new PoolClosedError('the classifier is closed');
    // Captured now: a swap that switches while this call runs does not move it to the new model.
    const live = this.#live;
    const outcomes = await live.inFlight.track(live.classifier.classify(texts));
    // Recorded once classified, not on the call: a call refused for overload and retried is one sample.
    // Into the ring of the model that answered: one that finishes after a switch does not mix in.
    live.recent.push(texts, outcomes);
    const model = live.classifier.model;
    return outcomes.map((o) => (isFailure(o) ? o : { ...o, model }));
  }

  health(): ClassifierHealth {
    return this.#live.classifier.health();
  }

  /** Batch timings of the live model, and of an old one until it is closed; survives swaps. */
  onBatch(listener: (timings: BatchTimings) => void): () => void {
    this.#batchListeners.add(listener);
    return () => this.#batchListeners.delete(listener);
  }

  /**
   * Replaces the live model with the compiled model in `dir` if it passes the gate; resolves (never
   * rejects) once the swap is decided and, when accepted, the old model is closed.
   */
  swap(dir: string): Promise<SwapResult> {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('dir must be a non-empty string');
    const started = performance.now();
    if (this.#closed) return Promise.resolve(this.#refuse(dir, started, {}, { stage: 'closed', error: new PoolClosedError('the classifier is closed') }));
    if (this.#swap !== undefined) {
      const error = new SwapBusyError(`a model swap is already under way; one candidate is loaded at a time (ask again when it has finished)`);
      return Promise.resolve(this.#refuse(dir, started, {}, { stage: 'busy', error }));
    }
    // Started a microtask later so #swap is set before #run emits swap_started: a listener that asks for
    // another swap is refused as busy.
    const run = Promise.resolve()
      .then(() => this.#run(dir, started))
      .finally(() => (this.#swap = undefined));
    this.#swap = run;
    return run;
  }

  /** Closes whatever is loaded: the live model, and a swap's candidate or draining old model once it is done. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      const live = this.#live;
      const swap = this.#swap;
      // A swap under way notices #closed after its current step and closes what it holds itself.
      await Promise.all([live.classifier.close().finally(() => live.unsubscribe()), swap]);
    })();
    return this.#closing;
  }

  async #run(dir: string, started: number): Promise<SwapResult> {
    const from = this.model;
    const timings: Omit<SwapTimings, 'totalMs'> = {};
    this.emit('swap_started', { dir, from });
    let candidate: Classifier;
    try {
      candidate = await this.options.load(dir);
    } catch (err) {
      const error = new SwapLoadError(`cannot load the candidate in ${dir} (${codeOf(err)}): ${messageOf(err)}`, { cause: err });
      return this.#refuse(dir, started, timings, { stage: 'load', error });
    }
    timings.loadMs = performance.now() - started;
    let checked: Checked | Refusal;
    try {
      checked = this.#closed ? closedDuringSwap() : await this.#check(candidate, from, timings);
    } catch (err) {
      // A candidate that answers out of contract (wrong outcome count, unknown label) must not stay loaded.
      checked = { stage: 'parity', error: new SwapParityError(`the parity check failed: ${messageOf(err)}`, { cause: err }) };
    }
    // Closed while the gate ran: the live model is closing too (its parity answers were failures), so no switch.
    if (!('error' in checked) && this.#closed) checked = { ...closedDuringSwap(), sample: checked.sample };
    if ('error' in checked) {
      await candidate.close().catch(() => undefined);
      return this.#refuse(dir, started, timings, { ...checked, candidate: candidate.model });
    }
    const { sample, figures } = checked;
    const to = candidate.model;
    const live = this.#live;

    // The switch: one assignment, so every classify() from here on goes to the candidate.
    const next = this.#adopt(candidate);
    // Its answers on the sample are answers of the new live model: the next swap has a full sample at once.
    next.recent.push(checked.texts, checked.answers);
    this.#live = next;
    this.emit('swap_switched', { dir, from, to });
    const drainStarted = performance.now();
    const drained = await live.inFlight.settled(this.options.drainTimeoutMs);
    timings.drainMs = performance.now() - drainStarted;
    await live.classifier.close().catch(() => undefined);
    live.unsubscribe();
    const result: SwapAccepted = { accepted: true, dir, from, to, sample, figures, drained, timings: { ...timings, totalMs: performance.now() - started } };
    this.emit('swap_accepted', result);
    return result;
  }

  /** The gate: same labels, enough sample texts, agreement on them. Either the figures or why not. */
  async #check(candidate: Classifier, from: ModelInfo, timings: Omit<SwapTimings, 'totalMs'>): Promise<Checked | Refusal> {
    const to = candidate.model;
    if (!sameLabels(from.labels, to.labels)) {
      const error = new SwapLabelsError(`the candidate's labels [${to.labels.join(', ')}] differ from the live model's [${from.labels.join(', ')}] (same labels in the same order are needed)`);
      return { stage: 'labels', error };
    }
    const live = this.#live;
    const answered = live.recent.snapshot();
    const texts = answered.map((a) => a.text);
    const fallback = answered.length < this.options.minSample ? this.options.fallbackSample : [];
    texts.push(...fallback);
    const sample: SampleFigures = { texts: texts.length, live: answered.length, fallback: fallback.length };
    if (texts.length < this.options.minSample) {
      const error = new SwapSampleError(
        `only ${sample.live} recent live text(s) seen, the parity check needs ${this.options.minSample}: send traffic first, or give a fallback sample`,
      );
      return { stage: 'sample', error, sample };
    }
    const parityStarted = performance.now();
    // Patiently: the live model is serving traffic too, and an overloaded answer is backpressure, not a verdict.
    const stopping = (): boolean => this.#closed;
    // The live model's answers are the recorded ones; only the fallback texts (a quiet service) are new to it.
    const liveFallback = fallback.length === 0 ? [] : await live.inFlight.track(classifyPatiently(live.classifier, fallback, stopping));
    const liveOut: ClassifyOutcome[] = [...answered.map((a) => a.answer), ...liveFallback];
    const candidateOut = await inChunks(candidate, texts, stopping);
    timings.parityMs = performance.now() - parityStarted;
    const figures = compareOutcomes(from.labels, liveOut, candidateOut);
    const verdict = judge(figures, this.options);
    if (!verdict.passed) {
      const error = new SwapParityError(`the candidate ${to.name}@${to.version} disagrees with ${from.name}@${from.version} on ${sample.texts} recent texts: ${verdict.failures.join('; ')}`);
      return { stage: 'parity', error, sample, figures };
    }
    return { sample, figures, texts, answers: candidateOut };
  }

  #adopt(classifier: Classifier): Loaded {
    const forward = (timings: BatchTimings): void => {
      for (const listener of this.#batchListeners) listener(timings);
    };
    return { classifier, inFlight: new InFlight(), recent: new RecentAnswers(this.options.sampleSize), unsubscribe: classifier.onBatch?.(forward) ?? (() => undefined) };
  }

  #refuse(dir: string, started: number, timings: Omit<SwapTimings, 'totalMs'>, r: Refusal): SwapRefused {
    const result: SwapRefused = {
      accepted: false,
      dir,
      from: this.model,
      stage: r.stage,
      code: r.error.code,
      reason: r.error.message,
      error: r.error,
      timings: { ...timings, totalMs: performance.now() - started },
      ...(r.candidate === undefined ? {} : { candidate: r.candidate }),
      ...(r.sample === undefined ? {} : { sample: r.sample }),
      ...(r.figures === undefined ? {} : { figures: r.figures }),
    };
    this.emit('swap_refused', result);
    return result;
  }
}

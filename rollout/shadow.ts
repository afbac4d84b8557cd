// A shadow model (issue #16): a second model answers a sample of the records the live model classified,
// on spare capacity only, and is judged by how often its labels agree with the live ones. Its answers
// never reach the output topic (the app may write them to a shadow topic from the `compared` event).
//
//   live batch classified ─► sample (--shadow-sample) ─► live busy, or a shadow call still running? ─► shed (counted)
//                                                    └─► shadow.classify ─► ShadowWindow (agreement, latency, errors)
//
// "Never slow the live path" is kept three ways: the shadow runs in its own pool whose threads run at
// niceness 19 (the kernel gives them only CPU the live workers leave); nothing is offered while the live
// pool has batches waiting or was busy more than `maxLiveBusy` of the last second; and at most
// `maxInFlight` shadow calls run, the rest is shed, not queued.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { messageOf } from '../src/errors.js';
import { isFailure, type Classification, type Classifier, type ClassifierHealth, type ClassifyOutcome, type ModelInfo } from '../src/model/classifier.js';
import { ShadowWindow, type ShadowReport } from './shadow-window.js';

export interface ShadowPost {
  readonly id: string;
  readonly text: string;
  readonly source?: { topic: string; partition: number; offset: number };
}

export type ShedReason = 'live-busy' | 'shadow-busy' | 'closed';

export interface ShadowEventMap {
  /** One shadow call done: the posts, the live answers and the shadow's, in the same order. */
  compared: [{ posts: ShadowPost[]; live: Classification[]; shadow: ClassifyOutcome[]; ms: number }];
  shed: [{ count: number; why: ShedReason }];
}

export interface ShadowOptions {
  shadow: Classifier;
  /** The live model as it is now (it may be swapped): its labels head the comparison. */
  live: () => { model: ModelInfo; health(): ClassifierHealth };
  /** Share of classified records offered to the shadow, (0, 1]. Default 0.1. */
  sample?: number;
  /** The report's window. Default 5 min. */
  windowMs?: number;
  /** Shadow calls running at once; past it, sampled records are shed. Default 1. */
  maxInFlight?: number;
  /**
   * Above this live busy ratio (share of the last second the live workers were busy) sampled records
   * are shed. Default 0.5: niceness alone did not keep the shadow off the live path on 2 cores (half-load
   * p99 1.32x in `npm run bench -- --shadow`); the idle moments a busy pool has are its burst headroom.
   */
  maxLiveBusy?: number;
  random?: () => number;
  now?: () => number;
}

export interface ShadowCounts {
  offered: number;
  sampled: number;
  compared: number;
  shed: Record<ShedReason, number>;
}

export class ShadowRunner extends EventEmitter<ShadowEventMap> {
  readonly shadow: Classifier;
  readonly sample: number;
  readonly #window: ShadowWindow;
  readonly #o: Required<Pick<ShadowOptions, 'maxInFlight' | 'maxLiveBusy' | 'random' | 'now'>> & Pick<ShadowOptions, 'live'>;
  readonly #running = new Set<Promise<void>>();
  readonly counts: ShadowCounts = { offered: 0, sampled: 0, compared: 0, shed: { 'live-busy': 0, 'shadow-busy': 0, closed: 0 } };
  #closed = false;

  constructor(options: ShadowOptions) {
    super();
    const sample = options.sample ?? 0.1;
    if (!(sample > 0 && sample <= 1)) throw new RangeError(`sample must be in (0, 1], got ${String(sample)}`);
    const maxInFlight = options.maxInFlight ?? 1;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${String(maxInFlight)}`);
    this.shadow = options.shadow;
    this.sample = sample;
    this.#window = new ShadowWindow(options.windowMs ?? 300_000);
    const maxLiveBusy = options.maxLiveBusy ?? 0.5;
    if (!(maxLiveBusy >= 0 && maxLiveBusy <= 1)) throw new RangeError(`maxLiveBusy must be in [0, 1], got ${String(maxLiveBusy)}`);
    this.#o = { live: options.live, maxInFlight, maxLiveBusy, random: options.random ?? Math.random, now: options.now ?? Date.now };
  }

  /** How long one live classify call took (the pipeline's batch round trip): the report's live latency. */
  observeLive(ms: number): void {
    this.#window.call('live', this.#o.now(), ms);
  }

  /**
   * A live batch was classified: `live[i]` is the answer for `posts[i]`. Returns at once; the sampled
   * posts go to the shadow if there is room, else they are shed.
   */
  offer(posts: readonly ShadowPost[], live: readonly ClassifyOutcome[]): void {
    this.counts.offered += posts.length;
    const now = this.#o.now();
    const picked: ShadowPost[] = [];
    const answers: Classification[] = [];
    let liveFailed = 0;
    posts.forEach((p, i) => {
      if (this.#o.random() >= this.sample) return;
      const o = live[i];
      if (o === undefined || isFailure(o)) {
        liveFailed++;
        return;
      }
      picked.push(p);
      answers.push(o);
    });
    if (liveFailed > 0) this.#window.failed('live', now, liveFailed);
    if (picked.length === 0) return;
    this.counts.sampled += picked.length;
    const why: ShedReason | undefined = this.#closed ? 'closed' : this.#running.size >= this.#o.maxInFlight ? 'shadow-busy' : this.#liveBusy() ? 'live-busy' : undefined;
    if (why !== undefined) {
      this.counts.shed[why] += picked.length;
      this.emit('shed', { count: picked.length, why });
      return;
    }
    const run: Promise<void> = this.#run(picked, answers).finally(() => this.#running.delete(run));
    this.#running.add(run);
  }

  #liveBusy(): boolean {
    const h = this.#o.live().health();
    return h.queued > 0 || h.busyRatio > this.#o.maxLiveBusy;
  }

  async #run(posts: ShadowPost[], live: Classification[]): Promise<void> {
    const started = performance.now();
    let shadow: ClassifyOutcome[];
    try {
      shadow = await this.shadow.classify(posts.map((p) => p.text));
    } catch (err) {
      // Refused as a whole (overloaded, closed): every text of the call failed on the shadow side.
      const failure: ClassifyOutcome = { error: { code: (err as { code?: string }).code ?? 'KLS_ERR_INFERENCE', message: messageOf(err) } };
      shadow = posts.map(() => failure);
    }
    const ms = performance.now() - started;
    const at = this.#o.now();
    this.#window.call('shadow', at, ms);
    shadow.forEach((o, i) => this.#window.compared(at, live[i] as Classification, o));
    this.counts.compared += posts.length;
    this.emit('compared', { posts, live, shadow, ms });
  }

  report(): ShadowReport & { counts: ShadowCounts; models: { live: ModelInfo; shadow: ModelInfo }; sample: number } {
    const liveModel = this.#o.live().model;
    return { ...this.#window.report(this.#o.now(), liveModel.labels), counts: structuredClone(this.counts), models: { live: liveModel, shadow: this.shadow.model }, sample: this.sample };
  }

  /** Stops offering, lets running shadow calls finish, closes the shadow model. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#running]);
    await this.shadow.close();
  }
}

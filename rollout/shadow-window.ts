// What a shadow model is judged on: its answers beside the live model's on the same records, over a
// sliding time window, with each model's latency, confidence and errors. Pure (the clock is passed in);
// the agreement arithmetic is the swap gate's own (parity.ts), so "agrees 93%" means the same thing in
// a shadow report and in a swap refusal.
import { isFailure, type Classification, type ClassifyOutcome } from '../src/model/classifier.js';
import { compareOutcomes, type AgreementFigures } from './parity.js';

export type ShadowSide = 'live' | 'shadow';

interface Compared {
  at: number;
  live: Classification;
  shadow: ClassifyOutcome;
}

interface Timed {
  at: number;
  ms: number;
}

export interface SideFigures {
  /** Mean of the top score over the window's compared records (shadow: over its successes); null if none. */
  meanConfidence: number | null;
  /** Per call, over the window; null without calls. */
  latencyMs: { p50: number; p99: number; calls: number } | null;
  /** Texts this model failed on in the window. */
  errors: number;
}

export interface ShadowReport {
  windowMs: number;
  /** Label agreement, overall, per live label and as a confusion matrix (live rows × shadow columns). */
  agreement: AgreementFigures;
  live: SideFigures;
  shadow: SideFigures;
}

/** Least records kept whatever their age is not a concern; this caps memory at a high rate. */
const MAX_ENTRIES = 100_000;

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

const topScore = (c: Classification): number => Math.max(...Object.values(c.scores));

export class ShadowWindow {
  readonly windowMs: number;
  #compared: Compared[] = [];
  readonly #latency: Record<ShadowSide, Timed[]> = { live: [], shadow: [] };
  readonly #errors: Record<ShadowSide, Timed[]> = { live: [], shadow: [] };

  constructor(windowMs: number) {
    if (!Number.isFinite(windowMs) || windowMs <= 0) throw new RangeError(`windowMs must be a positive number, got ${String(windowMs)}`);
    this.windowMs = windowMs;
  }

  /** One record both models answered (the live answer a success: only those can be compared). */
  compared(at: number, live: Classification, shadow: ClassifyOutcome): void {
    this.#compared.push({ at, live, shadow });
    if (isFailure(shadow)) this.failed('shadow', at, 1);
    if (this.#compared.length > MAX_ENTRIES) this.#compared.splice(0, this.#compared.length - MAX_ENTRIES);
  }

  /** One classify call of `side` and how long it took. */
  call(side: ShadowSide, at: number, ms: number): void {
    const list = this.#latency[side];
    list.push({ at, ms });
    if (list.length > MAX_ENTRIES) list.splice(0, list.length - MAX_ENTRIES);
  }

  /** `count` texts `side` failed on. */
  failed(side: ShadowSide, at: number, count: number): void {
    this.#errors[side].push({ at, ms: count });
  }

  report(now: number, liveLabels: readonly string[]): ShadowReport {
    this.#prune(now);
    const live = this.#compared.map((c) => c.live);
    const shadow = this.#compared.map((c) => c.shadow);
    const shadowOk = shadow.filter((o): o is Classification => !isFailure(o));
    const side = (s: ShadowSide, answers: readonly Classification[]): SideFigures => {
      const ms = this.#latency[s].map((t) => t.ms).sort((a, b) => a - b);
      return {
        meanConfidence: answers.length === 0 ? null : answers.reduce((n, c) => n + topScore(c), 0) / answers.length,
        latencyMs: ms.length === 0 ? null : { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), calls: ms.length },
        errors: this.#errors[s].reduce((n, e) => n + e.ms, 0),
      };
    };
    return { windowMs: this.windowMs, agreement: compareOutcomes(liveLabels, live, shadow), live: side('live', live), shadow: side('shadow', shadowOk) };
  }

  #prune(now: number): void {
    const from = now - this.windowMs;
    const keep = <T extends { at: number }>(list: T[]): T[] => {
      let i = 0;
      while (i < list.length && (list[i] as T).at < from) i++;
      return i === 0 ? list : list.slice(i);
    };
    this.#compared = keep(this.#compared);
    for (const s of ['live', 'shadow'] as const) {
      this.#latency[s] = keep(this.#latency[s]);
      this.#errors[s] = keep(this.#errors[s]);
    }
  }
}

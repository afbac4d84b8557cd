// The bench's "limit": the best in-process configuration of the model on this machine's cores, measured
// in the same round as what is compared with it. One session with every core as intra-op threads is not
// always the best (its threads wait for each other at every op, worse when a shared core is preempted);
// N one-thread sessions side by side is what the pool does without threads or messages. Each layout runs
// at several batch sizes (length-sorted calls, the pool's tokenization inside), and the best one is the
// limit of that round. Every session runs on a thread of its own (session.run blocks the thread that
// calls it), so N sessions are N threads of this process, as in the pool, minus its queue and messages.
import { Worker } from 'node:worker_threads';
import type { RunRequest } from './limit-worker.js';

export interface LimitLayout {
  sessions: number;
  threads: number;
}

export interface LimitMeasure extends LimitLayout {
  name: string;
  batchSize: number;
  textsPerSec: number;
}

/** The layouts worth trying on `cores` cores: one wide session, one session per core, and between. */
export function limitLayouts(cores: number): LimitLayout[] {
  const out: LimitLayout[] = [{ sessions: 1, threads: cores }];
  for (let threads = Math.floor(cores / 2); threads >= 1; threads = Math.floor(threads / 2)) {
    if (cores % threads === 0) out.push({ sessions: cores / threads, threads });
  }
  return out.filter((l, i) => out.findIndex((o) => o.sessions === l.sessions && o.threads === l.threads) === i);
}

export function layoutName(l: LimitLayout, batchSize: number): string {
  return `${l.sessions} session${l.sessions > 1 ? 's' : ''} x ${l.threads} thread${l.threads > 1 ? 's' : ''}, B=${batchSize}`;
}

/** The best measure (highest texts/s). */
export function bestOf(measures: readonly LimitMeasure[]): LimitMeasure {
  const best = measures.reduce<LimitMeasure | undefined>((a, b) => (a === undefined || b.textsPerSec > a.textsPerSec ? b : a), undefined);
  if (best === undefined) throw new Error('no limit configuration was measured');
  return best;
}

/** A session on a thread of its own (bench/limit-worker.ts). */
class SessionThread {
  private constructor(private readonly worker: Worker) {}

  static async start(modelDir: string, threads: number): Promise<SessionThread> {
    const worker = new Worker(new URL('./limit-worker.js', import.meta.url), { workerData: { modelDir, threads } });
    await reply(worker, 'ready');
    return new SessionThread(worker);
  }

  run(request: RunRequest): Promise<void> {
    this.worker.postMessage(request);
    return reply(this.worker, 'done');
  }

  async close(): Promise<void> {
    this.worker.postMessage('close');
    await reply(this.worker, 'closed');
    await this.worker.terminate();
  }
}

function reply(worker: Worker, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      if (m !== what) return;
      worker.off('message', onMessage);
      worker.off('error', reject);
      resolve();
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

/** Sessions of every layout, each on its own thread, loaded once for the whole bench. */
export class LimitRunners {
  private constructor(private readonly layouts: { layout: LimitLayout; sessions: SessionThread[] }[]) {}

  static async load(modelDir: string, cores: number): Promise<LimitRunners> {
    const layouts: { layout: LimitLayout; sessions: SessionThread[] }[] = [];
    for (const layout of limitLayouts(cores)) {
      const sessions: SessionThread[] = [];
      for (let i = 0; i < layout.sessions; i++) sessions.push(await SessionThread.start(modelDir, layout.threads));
      layouts.push({ layout, sessions });
    }
    return new LimitRunners(layouts);
  }

  /** One round: every layout at every batch size over the same texts. */
  async measure(texts: readonly string[], batchSizes: readonly number[]): Promise<LimitMeasure[]> {
    const out: LimitMeasure[] = [];
    for (const { layout, sessions } of this.layouts) {
      for (const batchSize of batchSizes) {
        out.push({ ...layout, name: layoutName(layout, batchSize), batchSize, textsPerSec: Math.round(await rate(sessions, texts, batchSize)) });
      }
    }
    return out;
  }

  async release(): Promise<void> {
    for (const { sessions } of this.layouts) for (const s of sessions) await s.close();
  }
}

/** Texts per second with every session pulling the next batch as it finishes. */
async function rate(sessions: readonly SessionThread[], texts: readonly string[], batchSize: number): Promise<number> {
  const batches: string[][] = [];
  for (let i = 0; i < texts.length; i += batchSize) batches.push(texts.slice(i, i + batchSize));
  const counter = (): SharedArrayBuffer => new SharedArrayBuffer(4);
  // Warm this shape on every session: one batch each.
  await Promise.all(sessions.map((s) => s.run({ batches: batches.slice(0, 1), next: counter() })));
  const next = counter();
  const t0 = performance.now();
  await Promise.all(sessions.map((s) => s.run({ batches, next })));
  return texts.length / ((performance.now() - t0) / 1000);
}

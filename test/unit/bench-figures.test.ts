// The bench's derived figures: the limit's layouts and best configuration, and the latency budget's
// stages (they must add up to the end-to-end latency, and split the pool round trip by the workers' means).
import { describe, expect, it } from 'vitest';
import { latencyBudget, histogramTotals } from '../../bench/latency-budget.js';
import { bestOf, layoutName, limitLayouts } from '../../bench/limit.js';

describe('bench limit configurations', () => {
  it('tries one wide session, one session per core, and the layouts between', () => {
    expect(limitLayouts(2)).toEqual([{ sessions: 1, threads: 2 }, { sessions: 2, threads: 1 }]);
    expect(limitLayouts(8)).toEqual([{ sessions: 1, threads: 8 }, { sessions: 2, threads: 4 }, { sessions: 4, threads: 2 }, { sessions: 8, threads: 1 }]);
    expect(limitLayouts(1)).toEqual([{ sessions: 1, threads: 1 }]);
    expect(layoutName({ sessions: 2, threads: 1 }, 32)).toBe('2 sessions x 1 thread, B=32');
  });

  it('the limit is the fastest configuration measured', () => {
    const m = (name: string, textsPerSec: number) => ({ name, sessions: 1, threads: 1, batchSize: 32, textsPerSec });
    expect(bestOf([m('a', 300), m('b', 420), m('c', 410)]).name).toBe('b');
    expect(() => bestOf([])).toThrow();
  });
});

const scrape = (inference: [number, number], tokenize: [number, number], run: [number, number], produce: [number, number]): string =>
  [
    '# HELP klassify_inference_seconds x',
    'klassify_inference_seconds_bucket{le="0.01"} 3',
    `klassify_inference_seconds_sum ${inference[0]}`,
    `klassify_inference_seconds_count ${inference[1]}`,
    `klassify_tokenize_seconds_sum ${tokenize[0]}`,
    `klassify_tokenize_seconds_count ${tokenize[1]}`,
    `klassify_model_run_seconds_sum ${run[0]}`,
    `klassify_model_run_seconds_count ${run[1]}`,
    `klassify_produce_seconds_sum ${produce[0]}`,
    `klassify_produce_seconds_count ${produce[1]}`,
    'klassify_records_in_total{topic="t"} 5',
  ].join('\n');

describe('bench latency budget', () => {
  it('reads histogram sums and counts from a Prometheus exposition', () => {
    const t = histogramTotals(scrape([1.5, 10], [0.1, 10], [1, 10], [0.2, 4]));
    expect(t.get('klassify_inference_seconds')).toEqual({ sum: 1.5, count: 10 });
    expect(t.has('klassify_records_in_total')).toBe(false);
  });

  it('stages add up to each record\'s end-to-end latency; the pool round trip is split by the workers\' means', () => {
    const before = scrape([1, 10], [0.1, 10], [0.5, 10], [0.1, 2]);
    // 10 more batches: pool 10 ms each, of which tokenize 2 ms and model run 6 ms; flushes 5 ms.
    const after = scrape([1.1, 20], [0.12, 20], [0.56, 20], [0.11, 4]);
    const records = [
      // fetched after 3 ms, 4 ms in the batcher, 10 ms in the pool, appended 2 ms later: 19 ms in all.
      { id: 'a', ts: 1000, appended: 1019, timings: { receivedAt: 1003, queueMs: 4, inferenceMs: 10 } },
      { id: 'b', ts: 2000, appended: 2039, timings: { receivedAt: 2005, queueMs: 14, inferenceMs: 10 } },
      { id: 'no-timings', ts: 3000, appended: 3001 },
    ];
    const b = latencyBudget(records, before, after);
    expect(b.records).toBe(2);
    expect(b.endToEndMeanMs).toBe(29);
    const by = Object.fromEntries(b.stages.map((s) => [s.stage, s]));
    expect(by['broker append -> fetched']!.meanMs).toBe(4);
    expect(by['queued for a batch']!.meanMs).toBe(9);
    expect(by['tokenize']!.meanMs).toBe(2);
    expect(by['model run']!.meanMs).toBe(6);
    expect(by['waiting for a worker']!.meanMs).toBe(2);
    expect(by['ordered flush + produce until acked']!.meanMs).toBe(6);
    expect(b.stages.reduce((n, s) => n + s.meanMs, 0)).toBeCloseTo(29, 6);
    // The slowest 1% of two records is the slower one (b: 39 ms).
    expect(by['queued for a batch']!.slowestMeanMs).toBe(14);
    expect(b.flushMeanMs).toBe(5);
  });
});

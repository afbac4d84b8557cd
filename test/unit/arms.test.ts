import { describe, expect, it } from 'vitest';
import { figuresOnly, type ArmRun } from '../../bench/arms.js';

const run = (perSecond: number): ArmRun => ({
  latency: { p50: 1, p95: 2, p99: 3, max: 4, count: 5 },
  perSecond,
  process: { eventLoopP99Ms: 1, eventLoopMaxMs: 2, gcSeconds: 0.1, cpuSeconds: 3, rssMb: 200 },
  metrics: 'klassify_records_in_total 10\n',
});

describe('figuresOnly', () => {
  it('keeps every arm and its figures, and drops the /metrics text', () => {
    const out = figuresOnly({ defaults: run(900), candidate: { ...run(950), extra: 7 } });
    expect(Object.keys(out).sort()).toEqual(['candidate', 'defaults']);
    expect(out.defaults).toEqual({ latency: { p50: 1, p95: 2, p99: 3, max: 4, count: 5 }, perSecond: 900, process: run(0).process });
    expect(out.candidate).toMatchObject({ perSecond: 950, extra: 7 });
    expect('metrics' in out.candidate).toBe(false);
  });
});

// The bench's "where the cores went" table: /proc parsing and the arithmetic from ticks to cores busy, on
// fixtures with known answers, and the main-thread / other-threads split on this very process with a real
// worker thread kept busy.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { cpuShares, cpuSnapshot, procStatTotals, statTicks, type CpuSnapshot } from '../../bench/cpu-share.js';

describe('statTicks', () => {
  it('reads utime + stime after a comm that holds spaces and parentheses', () => {
    const line = '4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 170 31 0 0 20 0 11 0 8000 1000000 5000';
    expect(statTicks(line)).toBe(201);
  });
});

describe('procStatTotals', () => {
  it('sums the first eight fields of the aggregate line, idle + iowait apart, and counts the CPUs', () => {
    const text = [
      'cpu  100 5 50 800 20 1 4 0 7 0',
      'cpu0 50 2 25 400 10 0 2 0 3 0',
      'cpu1 50 3 25 400 10 1 2 0 4 0',
      'intr 12345',
    ].join('\n');
    expect(procStatTotals(text)).toEqual({ total: 980, idle: 820, cpus: 2 });
  });
});

describe('cpuShares', () => {
  const snap = (total: number, idle: number, ticks: [string, number][]): CpuSnapshot => ({ total, idle, cpus: 2, ticks: new Map(ticks) });

  it('turns tick differences into cores busy, with the unlisted busy time and idle as rows of their own', () => {
    // 400 ticks over 2 CPUs = 200 ticks of wall time. main 20 → 0.1 core, workers 200 → 1.0, broker 60 → 0.3,
    // busy 360 of which 280 listed → 80 other = 0.4; idle 40 → 0.2. They add up to the 2 cores.
    const before = snap(1000, 500, [['main', 10], ['workers', 100], ['broker', 40]]);
    const after = snap(1400, 540, [['main', 30], ['workers', 300], ['broker', 100]]);
    const shares = cpuShares(before, after);
    expect(shares.rows).toEqual([
      { label: 'main', cores: 0.1 },
      { label: 'workers', cores: 1 },
      { label: 'broker', cores: 0.3 },
      { label: 'everything else', cores: 0.4 },
      { label: 'idle', cores: 0.2 },
    ]);
    expect(shares.rows.reduce((n, r) => n + r.cores, 0)).toBeCloseTo(2, 6);
  });

  it('counts a process that appeared during the window from zero and never goes negative', () => {
    // Ticks are sampled at different moments, so the listed processes can exceed /proc/stat's busy time a little.
    const shares = cpuShares(snap(0, 0, []), snap(200, 180, [['late', 50]]));
    expect(shares.rows[0]).toEqual({ label: 'late', cores: 0.5 });
    expect(shares.rows.find((r) => r.label === 'everything else')?.cores).toBe(0);
  });
});

describe('cpuSnapshot on this process', () => {
  it('puts a busy worker thread under "rest", not under the main thread', async () => {
    const procs = [{ label: 'me', pid: process.pid, splitMain: { main: 'main', rest: 'rest' } }];
    const before = cpuSnapshot(procs);
    // The worker spins for 600 ms of wall time while the main thread only awaits its exit.
    const worker = new Worker('const end = Date.now() + 600; while (Date.now() < end) {}', { eval: true });
    await new Promise((resolve) => worker.on('exit', resolve));
    const after = cpuSnapshot(procs);
    const d = (label: string): number => (after.ticks.get(label) ?? 0) - (before.ticks.get(label) ?? 0);
    // USER_HZ is 100 on Linux: even on a shared machine the spin gets well over 5 ticks (50 ms) of CPU.
    expect(d('rest')).toBeGreaterThan(5);
    expect(d('rest')).toBeGreaterThan(d('main'));
  });
});

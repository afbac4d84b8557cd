// bench/op-profile.ts: ONNX Runtime profile events summed by op type, and the side-by-side table.
import { describe, expect, it } from 'vitest';
import { opProfileMarkdown, opTimes } from '../../bench/op-profile.js';

// The shape ORT writes (chrome trace): session events, and per node a fence_before, kernel_time, fence_after.
const node = (name: string, op: string, dur: number): unknown[] => [
  { cat: 'Node', name: `${name}_fence_before`, dur: 0, args: { op_name: op } },
  { cat: 'Node', name: `${name}_kernel_time`, dur, args: { op_name: op, thread_scheduling_stats: {} } },
  { cat: 'Node', name: `${name}_fence_after`, dur: 0, args: { op_name: op } },
];

describe('opTimes', () => {
  it('sums kernel times (µs → ms) by op type, counts node runs, ignores session events and fences, largest first', () => {
    const events = [
      { cat: 'Session', name: 'model_run', dur: 99_000 },
      ...node('mm1', 'DynamicQuantizeMatMul', 1500), ...node('mm2', 'DynamicQuantizeMatMul', 2500),
      ...node('max', 'ReduceMax', 300), ...node('div', 'Div', 700),
      null, 'noise', { cat: 'Node', name: 'x_kernel_time' },
    ];
    expect(opTimes(events)).toEqual([
      { op: 'DynamicQuantizeMatMul', ms: 4, calls: 2 },
      { op: 'Div', ms: 0.7, calls: 1 },
      { op: 'ReduceMax', ms: 0.3, calls: 1 },
      { op: 'unknown', ms: 0, calls: 1 },
    ]);
  });
});

describe('opProfileMarkdown', () => {
  it('lists every op of either model with time, share and runs, the difference, and the ratio of the totals', () => {
    const md = opProfileMarkdown(
      [{ op: 'DynamicQuantizeMatMul', ms: 90, calls: 10 }, { op: 'Gelu', ms: 10, calls: 2 }],
      [{ op: 'DynamicQuantizeMatMul', ms: 90, calls: 10 }, { op: 'Div', ms: 12, calls: 4 }, { op: 'Gelu', ms: 8, calls: 2 }],
    );
    expect(md).toContain('**1.100x** stock');
    expect(md).toContain('| DynamicQuantizeMatMul | 90 ms (90.0%), 10 | 90 ms (81.8%), 10 | 0 ms |');
    expect(md).toContain('| Div | – | 12 ms (10.9%), 4 | 12 ms |');
    expect(md).toContain('| Gelu | 10 ms (10.0%), 2 | 8 ms (7.3%), 2 | -2 ms |');
    expect(md.indexOf('| Div |')).toBeLessThan(md.indexOf('| Gelu |'));
  });
});

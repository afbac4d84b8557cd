import { describe, expect, it } from 'vitest';
import { Ledger } from '../../consumers/ledger.js';

const p0 = { topic: 't', partition: 0 };
const p1 = { topic: 't', partition: 1 };

describe('Ledger', () => {
  it('counts the bytes in flight through acknowledge, acknowledgeBelow, abandon and drop', () => {
    const l = new Ledger<string>();
    const a = l.append(p0, 1, 100)!;
    const b = l.append(p0, 2, 200)!;
    l.append(p0, 3, 300);
    l.append(p1, 1, 1000);
    const c = l.append(p1, 2, 2000)!;
    expect(l.bytes).toBe(3600);
    l.complete(a, 'a');
    l.complete(b, 'b');
    const [run] = l.takeReady();
    l.acknowledge(run!);
    expect(l.bytes).toBe(3300);
    l.abandon(c);
    expect(l.bytes).toBe(1300);
    l.drop((tp) => tp.partition !== 0);
    expect(l.bytes).toBe(1000);
    const d = l.append(p0, 7, 70)!;
    l.complete(d, 'd');
    const [r2] = l.takeReady();
    l.acknowledgeBelow(r2!, 8);
    expect(l.bytes).toBe(1000);
    l.drop(() => false);
    expect({ bytes: l.bytes, size: l.size }).toEqual({ bytes: 0, size: 0 });
  });

  it('hands out only the finished prefix of a partition, in offset order', () => {
    const l = new Ledger<string>();
    const [a, b, c] = [l.append(p0, 10)!, l.append(p0, 11)!, l.append(p0, 12)!];
    l.complete(c, 'c');
    l.complete(b, 'b');
    expect(l.takeReady()).toEqual([]);
    l.complete(a, 'a');
    const runs = l.takeReady();
    expect(runs).toHaveLength(1);
    expect(runs[0]!.entries.map((e) => e.output)).toEqual(['a', 'b', 'c']);
  });

  it('moves the commit point only after the broker acknowledged', () => {
    const l = new Ledger<string>();
    const e = l.append(p0, 5)!;
    l.complete(e, 'x');
    const [run] = l.takeReady();
    expect(l.uncommitted()).toEqual([]);
    l.acknowledge(run!);
    expect(l.uncommitted()).toEqual([{ tp: p0, offset: 6 }]);
    l.markCommitted(l.uncommitted());
    expect(l.uncommitted()).toEqual([]);
    expect(l.size).toBe(0);
  });

  it('one send at a time per partition; others proceed; a failed send is handed out again', () => {
    const l = new Ledger<string>();
    l.complete(l.append(p0, 1)!, 'a');
    l.complete(l.append(p1, 1)!, 'b');
    const runs = l.takeReady();
    expect(runs).toHaveLength(2);
    l.complete(l.append(p0, 2)!, 'c');
    expect(l.takeReady()).toEqual([]);
    l.release(runs[0]!);
    const again = l.takeReady();
    expect(again[0]!.entries.map((e) => e.output)).toEqual(['a', 'c']);
  });

  it('dropping revoked partitions marks their records so late results are ignored', () => {
    const l = new Ledger<string>();
    const e0 = l.append(p0, 1)!;
    l.append(p1, 1);
    const dropped = l.drop((tp) => tp.partition === 1);
    expect(dropped).toEqual([e0]);
    expect(e0.dropped).toBe(true);
    expect(l.size).toBe(1);
    expect(l.partitions()).toEqual([p1]);
  });

  it('does not take an offset twice, nor complete a record twice', () => {
    const l = new Ledger<string>();
    const e = l.append(p0, 3)!;
    expect(l.append(p0, 3)).toBeUndefined();
    expect(l.append(p0, 2)).toBeUndefined();
    expect(l.size).toBe(1);
    l.complete(e, 'a');
    expect(() => l.complete(e, 'b')).toThrow(/twice/);
  });

  it('a budget cuts each run to a prefix, and the first entry of a request always goes', () => {
    const l = new Ledger<string>();
    for (let o = 0; o < 5; o++) l.complete(l.append(p0, o)!, `a${o}`);
    for (let o = 0; o < 5; o++) l.complete(l.append(p1, o)!, `b${o}`);
    let taken = 0;
    const runs = l.takeReady({ startRun: () => undefined, admit: () => taken++ < 3 });
    expect(runs.map((r) => r.entries.map((e) => e.output))).toEqual([['a0', 'a1', 'a2']]);
    taken = 0;
    // p0 is out; p1 gets its own cut.
    expect(l.takeReady({ startRun: () => { taken = 0; }, admit: () => taken++ < 2 }).map((r) => r.entries.length)).toEqual([2]);
  });

  it('only the run that was handed out can acknowledge or release it', () => {
    const l = new Ledger<string>();
    l.complete(l.append(p0, 1)!, 'a');
    const [first] = l.takeReady();
    l.release(first!);
    l.complete(l.append(p0, 2)!, 'b');
    const [second] = l.takeReady();
    // A late answer for the first hand-out must not move the second's commit point nor free it.
    l.acknowledge(first!);
    l.release(first!);
    expect(l.uncommitted()).toEqual([]);
    expect(l.takeReady()).toEqual([]);
    l.acknowledge(second!);
    expect(l.uncommitted()).toEqual([{ tp: p0, offset: 3 }]);
    expect(l.size).toBe(0);
  });

  it('a run found partly committed after a failed transaction drops that part and hands out the rest', () => {
    const l = new Ledger<string>();
    for (let o = 10; o < 15; o++) l.complete(l.append(p0, o)!, `r${o}`);
    const [run] = l.takeReady();
    l.acknowledgeBelow(run!, 13);
    expect(l.size).toBe(2);
    expect(l.uncommitted()).toEqual([]);
    const [rest] = l.takeReady();
    expect(rest!.entries.map((e) => e.offset)).toEqual([13, 14]);
  });

  it('abandoning a record removes it and the rest of its partition, and refuses later offsets there until the partition is dropped', () => {
    const l = new Ledger<string>();
    const e = [10, 11, 12, 13].map((o) => l.append(p0, o)!);
    l.complete(l.append(p1, 1)!, 'other');
    l.complete(e[0]!, 'a');
    expect(l.abandon(e[2]!)).toBe(2);
    expect([e[2]!.dropped, e[3]!.dropped, e[1]!.dropped]).toEqual([true, true, false]);
    expect(l.size).toBe(3);
    // The commit point can never pass the abandoned record: offsets from it on are refused.
    expect(l.append(p0, 14)).toBeUndefined();
    expect(l.abandon(e[2]!)).toBe(0);
    l.complete(e[1]!, 'b');
    const runs = l.takeReady();
    expect(runs.map((r) => r.entries.map((x) => x.offset))).toEqual([[10, 11], [1]]);
    for (const r of runs) l.acknowledge(r);
    expect(l.uncommitted()).toContainEqual({ tp: p0, offset: 12 });
    l.drop(() => false);
    expect(l.append(p0, 12)).toBeDefined();
  });

  it('a record inside a run being sent is not abandoned', () => {
    const l = new Ledger<string>();
    const a = l.append(p0, 1)!;
    l.complete(a, 'a');
    const b = l.append(p0, 2)!;
    l.takeReady();
    expect(l.abandon(a)).toBe(0);
    expect(l.abandon(b)).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { Ledger } from '../../consumers/ledger.js';

const p0 = { topic: 't', partition: 0 };
const p1 = { topic: 't', partition: 1 };

describe('Ledger', () => {
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
});

// The parity sample's ring (rollout/recent-texts.ts) and the in-flight counter a swap drains on
// (rollout/in-flight.ts).
import { describe, expect, it } from 'vitest';
import { InFlight } from '../../rollout/in-flight.js';
import { RecentTexts } from '../../rollout/recent-texts.js';

describe('RecentTexts', () => {
  it('keeps the last `capacity` texts, oldest first', () => {
    const r = new RecentTexts(3);
    r.push(['a', 'b']);
    expect(r.snapshot()).toEqual(['a', 'b']);
    r.push(['c', 'd']);
    expect(r.snapshot()).toEqual(['b', 'c', 'd']);
    r.push(['e']);
    expect(r.snapshot()).toEqual(['c', 'd', 'e']);
    expect(r.size).toBe(3);
  });

  it('keeps only the tail of a call larger than the ring', () => {
    const r = new RecentTexts(3);
    r.push(['x']);
    r.push(['1', '2', '3', '4', '5']);
    expect(r.snapshot()).toEqual(['3', '4', '5']);
  });

  it('hands out a copy', () => {
    const r = new RecentTexts(2);
    r.push(['a']);
    const s = r.snapshot();
    r.push(['b', 'c']);
    expect(s).toEqual(['a']);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new RecentTexts(0)).toThrow(RangeError);
    expect(() => new RecentTexts(1.5)).toThrow(RangeError);
  });
});

describe('InFlight', () => {
  it('settles once every tracked call has settled, rejected ones included', async () => {
    const f = new InFlight();
    expect(await f.settled(10)).toBe(true);
    let ok!: () => void;
    let bad!: (e: Error) => void;
    const a = f.track(new Promise<void>((r) => (ok = r)));
    const b = f.track(new Promise<void>((_, r) => (bad = r)));
    b.catch(() => undefined);
    expect(f.count).toBe(2);
    const settled = f.settled(5_000);
    ok();
    await a;
    expect(f.count).toBe(1);
    bad(new Error('boom'));
    expect(await settled).toBe(true);
    expect(f.count).toBe(0);
  });

  it('gives up after the timeout with calls still running', async () => {
    const f = new InFlight();
    void f.track(new Promise<void>(() => undefined));
    expect(await f.settled(20)).toBe(false);
    expect(f.count).toBe(1);
  });
});

// The parity sample's ring (rollout/recent-answers.ts) and the in-flight counter a swap drains on
// (rollout/in-flight.ts).
import { describe, expect, it } from 'vitest';
import { InFlight } from '../../rollout/in-flight.js';
import { RecentAnswers } from '../../rollout/recent-answers.js';
import type { Classification, ClassifyOutcome } from '../../src/model/classifier.js';

const answer = (label: string): Classification => ({ label, scores: { [label]: 1 }, tokens: 3, truncated: false });
const answers = (labels: string[]): ClassifyOutcome[] => labels.map(answer);
const texts = (r: RecentAnswers): string[] => r.snapshot().map((a) => a.text);

describe('RecentAnswers', () => {
  it('keeps the last `capacity` answered texts, oldest first, each with its answer', () => {
    const r = new RecentAnswers(3);
    r.push(['a', 'b'], answers(['pos', 'neg']));
    expect(r.snapshot()).toEqual([{ text: 'a', answer: answer('pos') }, { text: 'b', answer: answer('neg') }]);
    r.push(['c', 'd'], answers(['x', 'y']));
    expect(texts(r)).toEqual(['b', 'c', 'd']);
    r.push(['e'], answers(['z']));
    expect(texts(r)).toEqual(['c', 'd', 'e']);
    expect(r.snapshot().map((a) => a.answer.label)).toEqual(['x', 'y', 'z']);
    expect(r.size).toBe(3);
  });

  it('keeps only the tail of a call larger than the ring', () => {
    const r = new RecentAnswers(3);
    r.push(['x'], answers(['l']));
    r.push(['1', '2', '3', '4', '5'], answers(['a', 'b', 'c', 'd', 'e']));
    expect(texts(r)).toEqual(['3', '4', '5']);
  });

  it('leaves out texts the model failed on: there is no answer to compare with', () => {
    const r = new RecentAnswers(4);
    const failed: ClassifyOutcome = { error: { code: 'KLS_ERR_INFERENCE', message: 'boom' } };
    r.push(['a', 'b', 'c'], [answer('pos'), failed, answer('neg')]);
    expect(texts(r)).toEqual(['a', 'c']);
  });

  it('hands out a copy', () => {
    const r = new RecentAnswers(2);
    r.push(['a'], answers(['l']));
    const s = r.snapshot();
    r.push(['b', 'c'], answers(['l', 'l']));
    expect(s.map((a) => a.text)).toEqual(['a']);
  });

  it('refuses a capacity that is not a positive integer, and outcomes that do not match the texts', () => {
    expect(() => new RecentAnswers(0)).toThrow(RangeError);
    expect(() => new RecentAnswers(1.5)).toThrow(RangeError);
    expect(() => new RecentAnswers(2).push(['a', 'b'], answers(['l']))).toThrow(RangeError);
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

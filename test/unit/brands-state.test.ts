// The brand monitor's state as the state topic keeps it: gzip'd snapshots (with plain JSON still read),
// the size at 1,000 brands against the topic's default 1 MB record limit, and a restore that makes the
// state exactly the snapshot's, which is how a failed transaction is rolled back.
import { describe, expect, it } from 'vitest';
import { parseBrandsConfig } from '../../brands/config.js';
import { BrandMonitor } from '../../brands/monitor.js';
import { decodeSnapshot, encodeSnapshot, type StreamRecord } from '../../consumers/state-stream.js';

const T0 = Date.UTC(2026, 0, 1);
const LABELS = ['negative', 'neutral', 'positive'] as const;

function monitorOf(brands: number): BrandMonitor {
  const config = parseBrandsConfig({
    brands: Array.from({ length: brands }, (_, i) => ({ name: `Brand ${i}`, aliases: Array.from({ length: 10 }, (_, a) => `brand${i}alias${a}`) })),
  });
  const m = new BrandMonitor(config, { stats: 'stats', alerts: 'alerts' });
  m.assigned?.([0]);
  return m;
}

/** `perMinute` results a minute for `minutes` minutes, each mentioning one of `brands` brands. */
function results(brands: number, minutes: number, perMinute: number, from = 0): StreamRecord[] {
  const out: StreamRecord[] = [];
  for (let minute = from; minute < from + minutes; minute++) {
    for (let k = 0; k < perMinute; k++) {
      const n = minute * perMinute + k;
      const b = (k * 7 + minute) % brands;
      const ts = T0 + minute * 60_000 + Math.floor((k * 60_000) / perMinute);
      // A context of a typical post's length (the pipeline writes at most CONTEXT_MAX_CHARS).
      const context = `brand${b}alias0 ${['is down again, third time this week', 'fixed my line in ten minutes, brilliant', 'raised prices again'][n % 3]} (post ${n}, minute ${minute})`;
      const brand = { brand: `Brand ${b}`, alias: `brand${b}alias0`, start: 0, end: 5, label: LABELS[n % 3], scores: {}, context };
      out.push({ partition: 0, offset: String(n), timestamp: String(ts), value: Buffer.from(JSON.stringify({ id: `p${n}`, label: 'neutral', ts, model: 'm@1', brands: [brand] })) });
    }
  }
  return out;
}

describe('brand monitor state snapshots', () => {
  it('round-trips gzip, and reads the plain JSON earlier versions wrote', () => {
    const json = JSON.stringify({ version: 1, windows: { a: [1, 2, 3] }, text: 'Café ☕ "quoted"' });
    const encoded = encodeSnapshot(json);
    expect(encoded[0]).toBe(0x1f);
    expect(decodeSnapshot(encoded)).toBe(json);
    expect(decodeSnapshot(Buffer.from(json))).toBe(json);
  });

  it('1,000 brands x 10 aliases after 90 minutes of traffic: well under the 1 MB record limit once gzip\'d', () => {
    const m = monitorOf(1000);
    const records = results(1000, 90, 1000);
    for (let i = 0; i < records.length; i += 1000) m.process(records.slice(i, i + 1000));
    const json = m.snapshot();
    const gz = encodeSnapshot(json);
    process.stdout.write(`brand monitor snapshot at 1,000 brands: ${(Buffer.byteLength(json) / 1024).toFixed(0)} KB JSON, ${(gz.length / 1024).toFixed(0)} KB gzip'd\n`);
    // The history is full (30 one-minute windows per brand), so this is near the steady-state size.
    expect(Buffer.byteLength(json)).toBeGreaterThan(300 * 1024);
    expect(gz.length).toBeLessThan(256 * 1024);
  });

  it('restore makes the state exactly the snapshot\'s: work done after it is undone, and undefined is a fresh start', () => {
    const m = monitorOf(20);
    const fresh = m.snapshot();
    m.process(results(20, 3, 200));
    const committed = m.snapshot();
    const closed = m.process(results(20, 2, 200, 3));
    expect(closed.length).toBeGreaterThan(0);
    expect(m.snapshot()).not.toBe(committed);
    m.restore(committed);
    expect(m.snapshot()).toBe(committed);
    // The same batch again gives the same outputs: nothing was lost by the rollback, nothing counted twice.
    expect(m.process(results(20, 2, 200, 3)).map((o) => String(o.value))).toEqual(closed.map((o) => String(o.value)));
    m.restore(undefined);
    expect(m.snapshot()).toBe(fresh);
  });

  it('alerts quote their sample posts\' words, kept across a restore and dropped once no open window names them', () => {
    const record = (n: number, minute: number, brand: number, label: (typeof LABELS)[number]): StreamRecord => {
      const ts = T0 + minute * 60_000 + (n % 50) * 1_000;
      const b = { brand: `Brand ${brand}`, alias: `brand${brand}alias0`, start: 0, end: 5, label, scores: {}, context: `words of p${n}` };
      return { partition: 0, offset: String(n), timestamp: String(ts), value: Buffer.from(JSON.stringify({ id: `p${n}`, ts, brands: [b] })) };
    };
    let n = 0;
    const minute = (m: number, perBrand: number[]): StreamRecord[] => perBrand.flatMap((k, brand) => Array.from({ length: k }, (_, i) => record(n++, m, brand, LABELS[i % 3]!)));
    const m = monitorOf(2);
    for (let t = 0; t < 12; t++) m.process(minute(t, [5, 5]));
    // Minute 12: Brand 0 x8. Restore from a snapshot taken mid-minute: the texts come back with it.
    m.process(minute(12, [20, 5]));
    const mid = m.snapshot();
    expect(Object.keys((JSON.parse(mid) as { texts: Record<string, unknown> }).texts).length).toBeGreaterThan(0);
    m.restore(mid);
    m.process(minute(12, [20, 0]));
    const out = m.process(minute(14, [5, 5]));
    const alerts = out.filter((o) => o.topic === 'alerts').map((o) => JSON.parse(String(o.value)) as { kind: string; samplePostIds: string[]; samplePosts: { id: string; label: string; text: string }[] });
    const volume = alerts.find((a) => a.kind === 'volume');
    expect(volume, JSON.stringify(alerts)).toBeDefined();
    expect(volume!.samplePosts.map((x) => x.id)).toEqual(volume!.samplePostIds);
    for (const x of volume!.samplePosts) expect(x.text).toBe(`words of ${x.id}`);
    expect(new Set(volume!.samplePosts.map((x) => x.label))).toEqual(new Set(['negative', 'neutral']));
    // Minute 12 has closed: only the open minutes' samples keep words in the state.
    const texts = Object.keys((JSON.parse(m.snapshot()) as { texts: Record<string, unknown> }).texts);
    expect(texts.length).toBeGreaterThan(0);
    expect(texts.filter((k) => volume!.samplePostIds.some((id) => k.endsWith(`|${id}`)))).toEqual([]);
  });
});

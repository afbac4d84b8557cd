// `npm start -- --demo` as a new user runs it (here against the test broker, on its own topics and
// groups): within a few minutes the results carry brand mentions with the sentiment towards each brand,
// and the /brands page lists the injected spike's alert, quoting its sample posts.
import { describe, expect, it } from 'vitest';
import { collect, testKafka, uniqueName } from '../helpers/kafka.js';
import { pipelineArgs, startPipeline } from '../helpers/pipeline.js';

interface PageAlert { brand: string; kind: string; samplePosts: { id: string; label: string | null; text: string | null }[] }

describe('klassify start --demo', () => {
  it('shows mentions, per-brand sentiment and the injected spike\'s alert on /brands', async () => {
    const t = { input: uniqueName('demo-in'), output: uniqueName('demo-out'), dlq: uniqueName('demo-dlq'), group: uniqueName('demo-g') };
    const brands = ['--brands-stats-topic', uniqueName('demo-stats'), '--brands-alerts-topic', uniqueName('demo-alerts'),
      '--brands-state-topic', uniqueName('demo-state'), '--brands-group', uniqueName('demo-bg')];
    const p = await startPipeline([...pipelineArgs(t, brands), '--demo']);
    try {
      // The monitor and the generator start after the pipeline says it is running.
      let page: string | undefined;
      for (let i = 0; i < 600 && page === undefined; i++) {
        page = /brands\s+(http:\/\/\S+\/brands)\s/.exec(p.output())?.[1];
        if (page === undefined) await new Promise((res) => setTimeout(res, 100));
      }
      expect(page, p.output()).toBeDefined();
      // Results: generated posts, each naming one of the example brands, with the sentiment towards it.
      type Result = { id: string; brands: { brand: string; label: string; context: string }[] };
      const results = (await collect(testKafka(), t.output, 200, { timeoutMs: 120_000 })).map((r) => JSON.parse(r.value!.toString()) as Result);
      const mentions = results.flatMap((r) => r.brands);
      expect(mentions.length, p.output().slice(-2000)).toBeGreaterThan(150);
      expect(new Set(mentions.map((m) => m.label)).size).toBe(3);
      // The alert: 12 minutes of history, then Acme Air 8x and negative a minute into the live stream.
      let alerts: PageAlert[] = [];
      const deadline = Date.now() + 300_000;
      while (Date.now() < deadline) {
        const r = await fetch(`${page}/data`).catch(() => undefined);
        if (r?.ok) alerts = ((await r.json()) as { alerts: PageAlert[] }).alerts;
        if (alerts.some((a) => a.brand === 'Acme Air')) break;
        await new Promise((res) => setTimeout(res, 2_000));
      }
      const acme = alerts.filter((a) => a.brand === 'Acme Air');
      expect(acme.length, `no Acme Air alert on the page in 5 min; alerts: ${JSON.stringify(alerts)}\n${p.output().slice(-3000)}`).toBeGreaterThan(0);
      expect(alerts.filter((a) => a.brand !== 'Acme Air'), 'alerts for brands the demo did not spike').toEqual([]);
      const quoted = acme.flatMap((a) => a.samplePosts);
      expect(quoted.length).toBeGreaterThan(0);
      for (const s of quoted) expect(s.text, s.id).toMatch(/acme/i);
    } finally {
      expect(await p.stop(), p.output().slice(-3000)).toBe(0);
    }
  }, 600_000);
});

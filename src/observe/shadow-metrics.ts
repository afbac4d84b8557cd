// The shadow model's metrics (--shadow-model, rollout/shadow.ts): counters from its events, and the
// window's figures as gauges refreshed before each scrape. `klassify shadow-report` reads these back.
// Label values are bounded: live and shadow labels of the two models, two sides, three shed reasons.
import client, { type Registry } from 'prom-client';
import type { ShadowRunner } from '../../rollout/shadow.js';

type Report = ReturnType<ShadowRunner['report']>;

export class ShadowMetrics {
  readonly compared: client.Counter;
  readonly shed: client.Counter<'why'>;
  readonly errors: client.Counter<'model'>;
  readonly info: client.Gauge<'live_version' | 'shadow_name' | 'shadow_version' | 'sample'>;
  readonly agreement: client.Gauge;
  readonly windowCompared: client.Gauge;
  readonly classAgreement: client.Gauge<'label'>;
  readonly confusion: client.Gauge<'live' | 'shadow'>;
  readonly confidence: client.Gauge<'model'>;
  readonly latency: client.Gauge<'model' | 'quantile'>;
  readonly windowErrors: client.Gauge<'model'>;

  constructor(registry: Registry) {
    const r = [registry];
    const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) => new client.Gauge<L>({ name, help, labelNames, registers: r });
    this.compared = new client.Counter({ name: 'klassify_shadow_compared_total', help: 'Records the shadow model answered beside the live one.', registers: r });
    this.shed = new client.Counter({ name: 'klassify_shadow_shed_total', help: 'Sampled records not given to the shadow model: live pool busy, a shadow call still running, or shadow stopping.', labelNames: ['why'], registers: r });
    this.errors = new client.Counter({ name: 'klassify_shadow_errors_total', help: 'Sampled records the shadow model failed on (counted as disagreements).', labelNames: ['model'], registers: r });
    this.info = gauge('klassify_shadow_info', 'The shadow model beside the live one (value 1), and the share of records sampled.', ['live_version', 'shadow_name', 'shadow_version', 'sample']);
    this.agreement = gauge('klassify_shadow_agreement', 'Share of compared records on which the shadow model gave the live label, over the window (0..1).');
    this.windowCompared = gauge('klassify_shadow_window_compared', 'Records compared in the window.');
    this.classAgreement = gauge('klassify_shadow_class_agreement', 'Agreement within the records the live model gave this label, over the window.', ['label']);
    this.confusion = gauge('klassify_shadow_confusion', 'Records in the window by live label (rows) and shadow label (columns).', ['live', 'shadow']);
    this.confidence = gauge('klassify_shadow_mean_confidence', 'Mean top score of each model on the compared records, over the window.', ['model']);
    this.latency = gauge('klassify_shadow_latency_seconds', 'Per classify call of each model over the window (live: the pipeline\'s batches; shadow: its sampled calls).', ['model', 'quantile']);
    this.windowErrors = gauge('klassify_shadow_window_errors', 'Records each model failed on in the window.', ['model']);
  }

  observe(runner: ShadowRunner): void {
    runner.on('shed', (e) => this.shed.inc({ why: e.why }, e.count));
    runner.on('compared', (e) => {
      this.compared.inc(e.posts.length);
      const failed = e.shadow.filter((o) => 'error' in o).length;
      if (failed > 0) this.errors.inc({ model: 'shadow' }, failed);
    });
  }

  /** Refreshes the window gauges; without a shadow (none, or promoted) they are cleared. */
  sample(report: Report | undefined): void {
    for (const g of [this.info, this.agreement, this.windowCompared, this.classAgreement, this.confusion, this.confidence, this.latency, this.windowErrors]) g.reset();
    if (report === undefined) return;
    const { agreement: a, models } = report;
    this.info.set({ live_version: models.live.version, shadow_name: models.shadow.name, shadow_version: models.shadow.version, sample: String(report.sample) }, 1);
    this.windowCompared.set(a.compared);
    if (a.compared > 0) this.agreement.set(a.agreement);
    for (const c of a.perClass) if (c.texts > 0) this.classAgreement.set({ label: c.label }, c.agreement);
    a.labels.forEach((live, i) => a.labels.forEach((shadow, j) => this.confusion.set({ live, shadow }, a.confusion[i]![j]!)));
    for (const side of ['live', 'shadow'] as const) {
      const s = report[side];
      if (s.meanConfidence !== null) this.confidence.set({ model: side }, s.meanConfidence);
      if (s.latencyMs !== null) {
        this.latency.set({ model: side, quantile: '0.5' }, s.latencyMs.p50 / 1000);
        this.latency.set({ model: side, quantile: '0.99' }, s.latencyMs.p99 / 1000);
      }
      this.windowErrors.set({ model: side }, s.errors);
    }
  }
}

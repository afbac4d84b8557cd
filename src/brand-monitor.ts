// The brand monitor as a running service: the processor (brands/monitor.ts) on a StateStream
// (consumers/state-stream.ts), its Prometheus metrics and its HTTP server with the /brands page. Used by
// `klassify brands` and by `klassify start --demo`.
import client from 'prom-client';
import type { Kafka } from 'kafkajs';
import type { BrandsConfig } from '../brands/config.js';
import { BrandMonitor, type BrandAlert, type BrandStatsRecord } from '../brands/monitor.js';
import { modelMarkers } from '../brands/model-markers.js';
import { deliverAlert } from '../brands/webhook.js';
import { ensureTopics } from '../consumers/kafka-client.js';
import { readSince } from '../consumers/read-since.js';
import { StateStream } from '../consumers/state-stream.js';
import type { ResolvedConfig } from './config.js';
import { ObserveServer } from './observe/server.js';

const COMPACTED = { 'cleanup.policy': 'compact' };
/**
 * Stats keys (brand|window|start) never repeat except when a window is rewritten after a crash, so
 * compaction alone would keep every window for ever (1,000 brands: 1.4 M records a day); deletion after
 * STATS_RETENTION_MS bounds the topic, compaction still keeps one copy per window inside it.
 */
const STATS_RETENTION_MS = 30 * 86_400_000;
/** Minutes of 1-minute stats and hours of 1-hour stats the /brands page keeps per brand, and alerts it lists. */
const HISTORY_MINUTES = 240;
const HISTORY_HOURS = 48;
const LATEST_ALERTS = 50;
/** The state topic's record limit (topic-level max.message.bytes; the broker default is 1 MB). */
const STATE_MAX_BYTES = 8 * 2 ** 20;

export interface BrandMonitorOptions {
  config: ResolvedConfig;
  kafka: Kafka;
  brandsConfig: BrandsConfig;
  results: string;
  /** Port of its HTTP server (metrics, /brands); ignored with metrics off. */
  port: number;
  log: (line: string) => void;
}

export interface RunningBrandMonitor {
  /** Base URL of its HTTP server, or '' with metrics off. */
  url: string;
  stop(): Promise<void>;
}

export async function startBrandMonitor(o: BrandMonitorOptions): Promise<RunningBrandMonitor> {
  const { config, kafka, brandsConfig, results } = o;
  const b = config.brands;
  const info = o.log;
  await ensureTopics(kafka, [results, b.statsTopic, b.alertsTopic, b.stateTopic], config.pipeline.partitions, true, {
    [b.statsTopic]: { configs: { 'cleanup.policy': 'compact,delete', 'retention.ms': String(STATS_RETENTION_MS) } },
    // One state record (key: the group) and one partition: the snapshot is read back from its start.
    // Gzip'd, 1,000 brands snapshot to ~0.1 MB; the limit leaves room for tens of thousands.
    [b.stateTopic]: { partitions: 1, configs: { ...COMPACTED, 'max.message.bytes': String(STATE_MAX_BYTES) } },
  });
  const registry = new client.Registry();
  const names = brandsConfig.brands.map((x) => x.name);
  // Cardinality is bounded by the configured brands: labels never carry post ids or free text.
  const mentions = new client.Counter({ name: 'klassify_brand_mentions_total', help: 'Brand mentions counted by the monitor, by brand and label.', labelNames: ['brand', 'label'], registers: [registry] });
  const net = new client.Gauge({ name: 'klassify_brand_net_sentiment', help: '(positive - negative) / mentions in the last closed window.', labelNames: ['brand', 'window'], registers: [registry] });
  const sov = new client.Gauge({ name: 'klassify_brand_share_of_voice', help: "The brand's share of all configured brands' mentions in the last closed window.", labelNames: ['brand', 'window'], registers: [registry] });
  const volume = new client.Gauge({ name: 'klassify_brand_window_mentions', help: 'Mentions in the last closed window.', labelNames: ['brand', 'window'], registers: [registry] });
  const alertsTotal = new client.Counter({ name: 'klassify_brand_alerts_total', help: 'Spike alerts, by brand and kind.', labelNames: ['brand', 'kind'], registers: [registry] });
  const skipped = new client.Counter({ name: 'klassify_brand_skipped_total', help: 'Results the monitor could not use (not JSON, no brands field).', registers: [registry] });
  for (const n of names) for (const label of ['negative', 'neutral', 'positive']) mentions.inc({ brand: n, label }, 0);

  // What the /brands page shows: the recent 1-minute and 1-hour stats per brand and the latest alerts.
  const history: History = { minutes: [], hours: [], alerts: [] };
  const { minutes: recent, hours, alerts: latestAlerts } = history;
  const monitor = new BrandMonitor(brandsConfig, { stats: b.statsTopic, alerts: b.alertsTopic }, {
    deliver: b.webhookUrl ? (alert) => deliverAlert(alert, { url: b.webhookUrl as string, secret: b.webhookSecret }, info) : undefined,
    events: {
      onRecord: (r) => mentions.inc({ brand: r.brand, label: r.label }),
      onSkipped: () => skipped.inc(),
      onStats: (stats) => {
        for (const s of stats) {
          volume.set({ brand: s.brand, window: s.size }, s.count);
          if (s.netSentiment !== null) net.set({ brand: s.brand, window: s.size }, s.netSentiment);
          if (s.shareOfVoice !== null) sov.set({ brand: s.brand, window: s.size }, s.shareOfVoice);
          if (s.size === '1m') recent.push(s);
          else if (s.size === '1h') hours.push(s);
        }
        trim(history, names.length);
      },
      onAlerts: (alerts) => {
        for (const a of alerts) alertsTotal.inc({ brand: a.brand, kind: a.kind });
        latestAlerts.unshift(...alerts);
        trim(history, names.length);
      },
    },
  });
  // The page's history lives in memory: after a restart it is rebuilt from what the stats and alerts
  // topics received in the hours it shows (read_committed), before new windows close.
  await restoreHistory(kafka, b, names.length, history).catch((err: unknown) => info(`brands: dashboard history not restored (${(err as Error).message}); it fills as windows close`));
  const stream = new StateStream(kafka, { groupId: b.groupId, inputTopic: results, stateTopic: b.stateTopic, fromBeginning: true, sessionTimeoutMs: config.pipeline.sessionTimeoutMs });
  let running = false;
  let server: ObserveServer | undefined;
  let url = '';
  if (config.metrics.enabled) {
    server = new ObserveServer({
      host: config.metrics.host,
      port: o.port,
      token: config.metrics.token,
    insecure: config.metrics.insecure,
      metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
      ready: () => ({ ready: running, reasons: running ? [] : ['restoring state'] }),
      json: { '/brands/data': () => ({ brands: names, stats: recent, hourly: hours, alerts: latestAlerts, markers: modelMarkers(recent) }) },
    });
    url = await server.listen();
  }
  await stream.start(monitor);
  running = true;
  return {
    url,
    stop: async () => {
      running = false;
      await stream.stop();
      await server?.close();
    },
  };
}

interface History {
  /** Closed 1-minute windows, oldest first. */
  minutes: BrandStatsRecord[];
  /** Closed 1-hour windows, oldest first. */
  hours: BrandStatsRecord[];
  /** Newest first. */
  alerts: BrandAlert[];
}

function trim(h: History, brands: number): void {
  if (h.minutes.length > HISTORY_MINUTES * brands) h.minutes.splice(0, h.minutes.length - HISTORY_MINUTES * brands);
  if (h.hours.length > HISTORY_HOURS * brands) h.hours.splice(0, h.hours.length - HISTORY_HOURS * brands);
  h.alerts.splice(LATEST_ALERTS);
}

/**
 * Fills the page's history from the stats and alerts topics: stats of the minute view's span (so the hour
 * view restarts with its last few hours: reading two days of 1-minute stats at 1,000 brands would be
 * millions of records), alerts of the hour view's.
 */
async function restoreHistory(kafka: Kafka, b: ResolvedConfig['brands'], brands: number, h: History): Promise<void> {
  const since = Date.now() - HISTORY_MINUTES * 60_000;
  const parse = <T>(v: Buffer | null): T | undefined => {
    try {
      return v ? (JSON.parse(v.toString()) as T) : undefined;
    } catch {
      return undefined;
    }
  };
  // A window rewritten after a crash comes twice; the latest copy counts.
  const windows = new Map<string, BrandStatsRecord>();
  for (const r of await readSince(kafka, b.statsTopic, since)) {
    const s = parse<BrandStatsRecord>(r.value);
    if (s?.size === '1m' || s?.size === '1h') windows.set(`${s.brand}|${s.size}|${s.start}`, s);
  }
  const byEnd = [...windows.values()].sort((x, y) => x.end - y.end);
  h.minutes.push(...byEnd.filter((s) => s.size === '1m'));
  h.hours.push(...byEnd.filter((s) => s.size === '1h'));
  const alerts = new Map<string, BrandAlert>();
  for (const r of await readSince(kafka, b.alertsTopic, Date.now() - HISTORY_HOURS * 3_600_000)) {
    const a = parse<BrandAlert>(r.value);
    if (a?.id) alerts.set(a.id, a);
  }
  h.alerts.push(...[...alerts.values()].sort((x, y) => y.window.end - x.window.end));
  trim(h, brands);
}

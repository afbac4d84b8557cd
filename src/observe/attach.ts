// Starts the observability side of a running app: metrics, the lag monitor of its own group, the live
// stats feed and the HTTP server. Stops them together.
import { swapResponse } from '../../rollout/triggers.js';
import type { App, Attachment } from '../app.js';
import { createKafka } from '../../consumers/kafka-client.js';
import { LagMonitor } from './lag.js';
import { LiveStats } from './live.js';
import { Metrics } from './metrics.js';
import { ObserveServer } from './server.js';
import { ShadowMetrics } from './shadow-metrics.js';

export interface Observability extends Attachment {
  url: string;
  metrics: Metrics;
}

export async function attachObservability(app: App, options: { lagIntervalMs?: number; tickMs?: number } = {}): Promise<Observability> {
  const { config, pipeline, classifier } = app;
  const metrics = new Metrics();
  metrics.observePipeline(pipeline);
  const unsubscribe = metrics.observeClassifier(classifier);
  metrics.observeSwaps(classifier);
  const shadowMetrics = new ShadowMetrics(metrics.registry);
  if (app.shadow) shadowMetrics.observe(app.shadow.runner);
  const live = new LiveStats(pipeline, classifier, config.pipeline.outputTopic, () => app.shadow?.runner.report());
  const server = new ObserveServer({
    host: config.metrics.host,
    port: config.metrics.port,
    token: config.metrics.token,
    insecure: config.metrics.insecure,
    onStreamClientDropped: (why) => metrics.streamDrops.inc({ why }),
    adminModel: async (path) => swapResponse(await app.swapModel(path, 'http')),
    metrics: async () => {
      metrics.sample(classifier, pipeline);
      shadowMetrics.sample(app.shadow?.runner.report());
      return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
    },
    ready: () => {
      const reasons = app.notReady();
      return { ready: reasons.length === 0, reasons };
    },
  });
  const url = await server.listen();

  const tick = setInterval(() => server.publish(live.take()), options.tickMs ?? 1000);
  const lagMonitor = new LagMonitor(createKafka(config, app.brokers, `${config.kafka.clientId}-lag`));
  let polling = false;
  const pollLag = async (): Promise<void> => {
    if (polling || !pipeline.joined) return;
    polling = true;
    try {
      const lag = await lagMonitor.poll(config.pipeline.groupId, config.pipeline.inputTopics);
      metrics.observeLag(lag);
      live.setLag(lag);
    } catch (error) {
      pipeline.emit('error', { stage: 'lag', error: error as Error });
    } finally {
      polling = false;
    }
  };
  const lagTimer = setInterval(() => void pollLag(), options.lagIntervalMs ?? 5000);

  return {
    url,
    metrics,
    stop: async () => {
      clearInterval(tick);
      unsubscribe();
      clearInterval(lagTimer);
      await lagMonitor.close().catch(() => undefined);
      await server.close();
    },
  };
}

// --shadow-model as a running part of the app: the shadow's own pool (--shadow-workers, SCHED_IDLE with
// niceness 19 under it), the runner fed by the pipeline's classified batches (rollout/shadow.ts), and the optional
// --shadow-topic writer. Kept out of app.ts so the app only starts and stops it.
import { resolve } from 'node:path';
import type { Kafka } from 'kafkajs';
import { ensureTopics } from '../consumers/kafka-client.js';
import { ShadowTopicWriter, type ShadowTopicRecord } from '../consumers/shadow-topic.js';
import { verifyModelFile } from '../rollout/verify-model-file.js';
import { ShadowRunner, type ShadowEventMap } from '../rollout/shadow.js';
import type { SwappableClassifier } from '../rollout/swappable.js';
import type { ClassifierFactory } from './app.js';
import type { ResolvedConfig } from './config.js';
import { codeOf, messageOf } from './errors.js';
import { isFailure } from './model/classifier.js';
import type { Pipeline, PipelineEventMap } from './pipeline.js';

/** A shadow call waits behind live work (SCHED_IDLE): under full load far longer than the pool's stuck-worker timeout. */
const SHADOW_TASK_TIMEOUT_MS = 10 * 60_000;

export interface RunningShadow {
  readonly runner: ShadowRunner;
  /** The shadow's model folder, resolved: POST /admin/model with it promotes the shadow. */
  readonly dir: string;
  stop(): Promise<void>;
}

function topicRecords(e: ShadowEventMap['compared'][0], live: string, shadow: string): ShadowTopicRecord[] {
  return e.posts.map((p, i) => {
    const l = e.live[i]!;
    const s = e.shadow[i]!;
    return {
      id: p.id,
      source: p.source,
      live: { model: live, label: l.label, scores: l.scores },
      shadow: isFailure(s) ? { model: shadow, error: s.error } : { model: shadow, label: s.label, scores: s.scores },
      agree: !isFailure(s) && s.label === l.label,
    };
  });
}

export async function startShadow(parts: {
  config: ResolvedConfig;
  create: ClassifierFactory;
  live: SwappableClassifier;
  pipeline: Pipeline;
  kafka: Kafka;
  log: (line: string) => void;
}): Promise<RunningShadow | undefined> {
  const { config, live, pipeline, log } = parts;
  const m = config.model;
  if (m.shadow === undefined) return undefined;
  const dir = resolve(m.shadow);
  await verifyModelFile(dir);
  const shadow = await parts.create(Object.freeze({ ...config, model: Object.freeze({ ...m, dir }) }), { workers: m.shadowWorkers, niceness: 19, schedIdle: true, taskTimeoutMs: SHADOW_TASK_TIMEOUT_MS });
  const runner = new ShadowRunner({ shadow, live: () => live, sample: m.shadowSample, maxLiveBusy: m.shadowMaxLiveBusy });
  log(`shadow model ${shadow.model.name} ${shadow.model.version} (${shadow.model.target}) on ${shadow.health().workers} worker(s) on idle CPU only (SCHED_IDLE), ${Math.round(m.shadowSample * 100)}% of records${m.shadowTopic ? `, comparisons to ${m.shadowTopic}` : ''}`);

  let writer: ShadowTopicWriter | undefined;
  if (m.shadowTopic !== undefined) {
    await ensureTopics(parts.kafka, [m.shadowTopic], config.pipeline.partitions);
    const w = new ShadowTopicWriter(parts.kafka, m.shadowTopic);
    writer = w;
    runner.on('compared', (e) => {
      const version = (x: { name: string; version: string }): string => `${x.name}@${x.version}`;
      w.write(topicRecords(e, version(live.model), version(shadow.model))).catch((error: unknown) =>
        pipeline.emit('error', { stage: 'shadow', error: new Error(`${m.shadowTopic}: ${codeOf(error)}: ${messageOf(error)}`) }),
      );
    });
  }
  const onClassified = (e: PipelineEventMap['classified'][0]): void => runner.offer(e.posts, e.outcomes);
  const onBatch = (e: { inferenceMs: number }): void => runner.observeLive(e.inferenceMs);
  pipeline.on('classified', onClassified);
  pipeline.on('batch', onBatch);
  let stopping: Promise<void> | undefined;
  return {
    runner,
    dir,
    stop: () =>
      (stopping ??= (async () => {
        pipeline.off('classified', onClassified);
        pipeline.off('batch', onBatch);
        await runner.close();
        await writer?.close();
      })()),
  };
}

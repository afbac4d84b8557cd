// Output capped by bytes: the output and dead-letter topics accept record batches of at most 16 KB
// (max.message.bytes), and 3,000 results of ~2 KB each are ready at once. Before requests were capped,
// every flush built batches far over the limit, the broker refused them (MESSAGE_TOO_LARGE, not retriable)
// and the pipeline retried the same refused batch forever. A result too large even on its own becomes a
// dead letter that fits, with the reason and the value truncated.
import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS, type ResultRecord } from '../../consumers/messages.js';
import { collect, testKafka, uniqueName } from '../helpers/kafka.js';
import { pipelineArgs, startPipeline, type PipelineTopics } from '../helpers/pipeline.js';

const N = 3000;
const LIMIT = 16_384;

async function setup(prefix: string): Promise<{ t: PipelineTopics; ids: string[]; hugeId: string }> {
  const t = { input: uniqueName(`${prefix}-in`), output: uniqueName(`${prefix}-out`), dlq: uniqueName(`${prefix}-dlq`), group: uniqueName(`${prefix}-g`) };
  const kafka = testKafka();
  const admin = kafka.admin();
  await admin.connect();
  const capped = [{ name: 'max.message.bytes', value: String(LIMIT) }];
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: t.input, numPartitions: 3, replicationFactor: 1 },
      { topic: t.output, numPartitions: 1, replicationFactor: 1, configEntries: capped },
      { topic: t.dlq, numPartitions: 1, replicationFactor: 1, configEntries: capped },
    ],
  });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const ids: string[] = [];
  const filler = ' and then the support line put me on hold again while the app kept crashing'.repeat(20);
  for (let i = 0; i < N; i += 250) {
    const messages = Array.from({ length: Math.min(250, N - i) }, (_, j) => {
      const id = `r-${i + j}`;
      ids.push(id);
      return { key: id, value: JSON.stringify({ id, text: `post ${i + j}: ${filler}`, meta: { note: 'x'.repeat(400) } }) };
    });
    await producer.send({ topic: t.input, messages });
  }
  // One input whose result cannot fit the output topic at all: its meta is copied into the result.
  const hugeId = 'huge-1';
  await producer.send({ topic: t.input, messages: [{ key: hugeId, value: JSON.stringify({ id: hugeId, text: 'fine text', meta: { blob: 'b'.repeat(LIMIT + 2000) } }) }] });
  await producer.disconnect();
  return { t, ids, hugeId };
}

async function runCapped(prefix: string, extra: string[], readCommitted: boolean): Promise<void> {
  const { t, ids, hugeId } = await setup(prefix);
  const p = await startPipeline(pipelineArgs(t, extra));
  let code: number | null;
  try {
    const kafka = testKafka();
    const out = await collect(kafka, t.output, N, { timeoutMs: 120_000, readCommitted });
    const got = new Set(out.map((r) => (JSON.parse(r.value!.toString()) as ResultRecord).id));
    if (got.size < N) throw new Error(`only ${got.size} of ${N} results written; pipeline said:\n${p.output().slice(-3000)}`);
    expect([...got].sort()).toEqual([...ids].sort());
    const dlq = await collect(kafka, t.dlq, 1, { timeoutMs: 30_000, readCommitted });
    expect(dlq).toHaveLength(1);
    const h = dlq[0]!.headers!;
    expect(String(h[DLQ_HEADERS.code])).toBe('KLS_ERR_OUTPUT_TOO_LARGE');
    expect(String(h[DLQ_HEADERS.truncated])).toBe('true');
    expect(Number(h[DLQ_HEADERS.originalBytes])).toBeGreaterThan(LIMIT);
    expect(dlq[0]!.key).toBe(hugeId);
    expect(dlq[0]!.value!.length).toBeLessThan(LIMIT);
  } finally {
    // Stopped either way; a failure above is the one reported.
    code = await p.stop();
  }
  expect(code, `exit code; pipeline said:\n${p.output().slice(-3000)}`).toBe(0);
}

describe('produce requests capped by the topic\'s max.message.bytes', () => {
  it('at-least-once: every result written in batches the broker accepts', async () => {
    await runCapped('cap-alo', [], false);
  }, 240_000);

  it('exactly-once: every result written once, in transactions the broker accepts', async () => {
    await runCapped('cap-eos', ['--delivery', 'exactly-once'], true);
  }, 240_000);
});

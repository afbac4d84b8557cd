import { describe, expect, it } from 'vitest';
import { Ledger } from '../../consumers/ledger.js';
import { DLQ_HEADERS, fitMessage, type Finished, type OutMessage } from '../../consumers/messages.js';
import { isTooLarge, messageBytes, ProduceBudget } from '../../consumers/produce-budget.js';

const p0 = { topic: 'in', partition: 0 };
const p1 = { topic: 'in', partition: 1 };

function finished(value: string, partition = 0): Finished {
  return { messages: [{ topic: 'out', partition, key: null, value }], eventTs: 0, receivedAt: 0, deadLetter: false };
}

function budget(maxMessageBytes: number, maxRequestBytes = 1 << 20): ProduceBudget {
  return new ProduceBudget({ maxMessageBytes: new Map([['out', maxMessageBytes], ['dlq', maxMessageBytes]]), maxRequestBytes });
}

describe('ProduceBudget', () => {
  it('estimates a message above its payload (key, value, headers)', () => {
    const m: OutMessage = { topic: 'out', key: 'k', value: 'x'.repeat(100), headers: { h: 'v', many: ['a', 'b'] } };
    const payload = 1 + 100 + 'hv'.length + 'manya'.length + 'manyb'.length;
    expect(messageBytes(m)).toBeGreaterThan(payload);
    expect(messageBytes(m)).toBeLessThan(payload + 200);
  });

  it('caps what one partition sends under the topic limit, and the next request takes the rest', () => {
    const l = new Ledger<Finished>();
    for (let o = 0; o < 100; o++) l.complete(l.append(p0, o)!, finished('x'.repeat(1000)));
    const b = budget(20_000);
    const runs = l.takeReady(b.take(false));
    const bytes = runs[0]!.entries.reduce((n, e) => n + messageBytes(e.output!.messages[0]!), 0);
    expect(runs[0]!.entries.length).toBeGreaterThan(10);
    expect(bytes).toBeLessThanOrEqual(20_000);
    l.acknowledge(runs[0]!);
    expect(l.takeReady(b.take(false))[0]!.entries[0]!.offset).toBe(runs[0]!.entries.length);
  });

  it('two input partitions writing to one output partition share its record batch', () => {
    const l = new Ledger<Finished>();
    for (let o = 0; o < 15; o++) l.complete(l.append(p0, o)!, finished('x'.repeat(1000)));
    for (let o = 0; o < 15; o++) l.complete(l.append(p1, o)!, finished('x'.repeat(1000)));
    const runs = l.takeReady(budget(20_000).take(false));
    const total = runs.flatMap((r) => r.entries).length;
    expect(total).toBeLessThan(20);
    expect(total).toBeGreaterThan(10);
  });

  it('per transaction, each run has its own budget', () => {
    const l = new Ledger<Finished>();
    for (let o = 0; o < 15; o++) l.complete(l.append(p0, o)!, finished('x'.repeat(1000)));
    for (let o = 0; o < 15; o++) l.complete(l.append(p1, o)!, finished('x'.repeat(1000), 1));
    const runs = l.takeReady(budget(12_000).take(true));
    expect(runs.map((r) => r.entries.length)).toEqual([10, 10]);
  });

  it('caps the whole request too', () => {
    const l = new Ledger<Finished>();
    for (let o = 0; o < 20; o++) l.complete(l.append(p0, o)!, finished('x'.repeat(1000), 0));
    for (let o = 0; o < 20; o++) l.complete(l.append(p1, o)!, finished('x'.repeat(1000), 1));
    const runs = l.takeReady(budget(1 << 20, 25_000).take(false));
    expect(runs.flatMap((r) => r.entries).length).toBe(23);
  });

  it('a refusal halves the request caps, not the size a lone message may have, until refusals persist', () => {
    const l = new Ledger<Finished>();
    for (let o = 0; o < 30; o++) l.complete(l.append(p0, o)!, finished('x'.repeat(1000)));
    const b = budget(20_000);
    const before = b.maxMessageBytes('out');
    const full = l.takeReady(b.take(false))[0]!;
    l.release(full);
    b.refused();
    const half = l.takeReady(b.take(false))[0]!;
    expect(half.entries.length).toBeLessThan(full.entries.length / 2 + 1);
    // Ordinary results stay results after a few refusals.
    expect(b.maxMessageBytes('out')).toBe(before);
    for (let i = 0; i < 6; i++) b.refused();
    expect(b.maxMessageBytes('out')).toBeLessThan(before / 2);
    for (let i = 0; i < 7; i++) b.succeeded();
    expect(b.maxMessageBytes('out')).toBe(before);
  });

  it('recognises the broker\'s too-large refusals through kafkajs wrappers', () => {
    const protocol = Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { type: 'MESSAGE_TOO_LARGE' });
    expect(isTooLarge(new Error('wrapped', { cause: protocol }))).toBe(true);
    expect(isTooLarge(Object.assign(new Error('x'), { type: 'RECORD_LIST_TOO_LARGE' }))).toBe(true);
    expect(isTooLarge(new Error('Connection error: connect ECONNREFUSED'))).toBe(false);
  });
});

describe('fitMessage', () => {
  const source = { topic: 'in', partition: 2, offset: 77 };

  it('leaves a message that fits alone', () => {
    const m: OutMessage = { topic: 'out', partition: 1, key: 'k', value: 'small' };
    expect(fitMessage(m, messageBytes(m), 1000, 'dlq', source)).toBe(m);
  });

  it('turns an oversized result into a dead letter that fits, saying why and where from', () => {
    const m: OutMessage = { topic: 'out', partition: 1, key: 'k', value: 'y'.repeat(5000), headers: { big: 'z'.repeat(5000) } };
    const fit = fitMessage(m, messageBytes(m), 2000, 'dlq', source);
    expect(fit.topic).toBe('dlq');
    expect(messageBytes(fit)).toBeLessThan(2000);
    expect(fit.headers?.[DLQ_HEADERS.code]).toBe('KLS_ERR_OUTPUT_TOO_LARGE');
    expect(fit.headers?.[DLQ_HEADERS.truncated]).toBe('true');
    expect(fit.headers?.[DLQ_HEADERS.originalBytes]).toBe('5000');
    expect(fit.headers?.[DLQ_HEADERS.offset]).toBe('77');
    expect(fit.headers?.big).toBeUndefined();
    expect(String(fit.value)).toBe('y'.repeat(500));
  });

  it('an oversized dead letter keeps its own reason', () => {
    const m: OutMessage = { topic: 'dlq', key: null, value: Buffer.alloc(9000, 1), headers: { [DLQ_HEADERS.code]: 'KLS_ERR_OVERSIZED_TEXT', [DLQ_HEADERS.message]: 'too long' } };
    const fit = fitMessage(m, messageBytes(m), 4000, 'dlq', source);
    expect(fit.headers?.[DLQ_HEADERS.code]).toBe('KLS_ERR_OVERSIZED_TEXT');
    expect(fit.headers?.[DLQ_HEADERS.truncated]).toBe('true');
    expect((fit.value as Buffer).length).toBe(1000);
  });
});

describe('transactional ids', () => {
  it('differ whenever group, topic or partition differ, even with dashes in the names', async () => {
    const { transactionalIdFor } = await import('../../consumers/exactly-once-sink.js');
    const a = transactionalIdFor('a-b', { topic: 'c', partition: 1 });
    const b = transactionalIdFor('a', { topic: 'b-c', partition: 1 });
    const c = transactionalIdFor('a|b', { topic: 'c', partition: 1 });
    const d = transactionalIdFor('a', { topic: 'b|c', partition: 1 });
    expect(new Set([a, b, c, d]).size).toBe(4);
    expect(transactionalIdFor('g', { topic: 't', partition: 1 })).not.toBe(transactionalIdFor('g', { topic: 't', partition: 11 }));
  });
});

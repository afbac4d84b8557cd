// The live stream (SSE) is bounded: a capped number of clients (a new one closes the oldest) and a
// client that stops reading is dropped once its unsent bytes pass the bound, instead of buffering every
// frame in the process. On a real listening server with real sockets.
import { request, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { LiveSnapshot } from '../../src/observe/live.js';
import { observeServers } from '../helpers/observe-server.js';

const server = observeServers();

function stream(base: string): Promise<{ res: IncomingMessage; ended: Promise<void> }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: '/events', headers: { host: `127.0.0.1:${u.port}` } }, (res) => {
      const ended = new Promise<void>((done) => {
        res.on('end', () => done());
        res.on('close', () => done());
        res.on('error', () => done());
      });
      resolve({ res, ended });
    });
    req.on('error', reject);
    req.end();
  });
}

const settled = (p: Promise<void>, ms: number): Promise<boolean> => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe('live stream bounds', () => {
  it('a client past the cap closes the oldest one, and the others stay open', async () => {
    const dropped: string[] = [];
    const s = server({ maxStreamClients: 2, onStreamClientDropped: (why) => dropped.push(why) });
    const base = await s.listen();
    const first = await stream(base);
    first.res.resume();
    const second = await stream(base);
    second.res.resume();
    expect(await settled(first.ended, 300)).toBe(false);
    const third = await stream(base);
    third.res.resume();
    expect(await settled(first.ended, 2_000)).toBe(true);
    expect(await settled(second.ended, 300)).toBe(false);
    expect(await settled(third.ended, 300)).toBe(false);
    expect(dropped).toEqual(['oldest']);
  });

  it('a client that stops reading is dropped past the unsent-bytes bound; one that reads is kept', async () => {
    const dropped: string[] = [];
    const s = server({ slowClientBytes: 64 * 1024, onStreamClientDropped: (why) => dropped.push(why) });
    const base = await s.listen();
    const stalled = await stream(base);
    stalled.res.pause();
    const reader = await stream(base);
    let received = 0;
    reader.res.on('data', (c: Buffer) => (received += c.length));
    // ~100 KB frames: the sockets' kernel buffers absorb the first few MB, then the stalled client's
    // unsent bytes build up in this process until the bound drops it.
    const big = { pad: 'x'.repeat(100_000) } as unknown as LiveSnapshot;
    for (let i = 0; i < 400 && dropped.length === 0; i++) {
      s.publish(big);
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(dropped).toEqual(['slow']);
    expect(await settled(reader.ended, 300)).toBe(false);
    expect(received).toBeGreaterThan(1_000_000);
  });
});

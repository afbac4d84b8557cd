// The HTTP server's exposure rules, on a real listening server: no open server on the network by
// accident, and a loopback server that a DNS-rebound web page cannot read.
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { isLoopback } from '../../src/observe/server.js';
import { observeServers } from '../helpers/observe-server.js';

const server = observeServers({ metrics: async () => ({ contentType: 'text/plain', body: 'klassify_up 1\n' }) });

function get(url: string, path: string, host: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('metrics server exposure', () => {
  it('refuses to listen on every interface without a token, unless --metrics-insecure', async () => {
    await expect(server({ host: '0.0.0.0' }).listen()).rejects.toMatchObject({ code: 'KLS_ERR_CONFIG', message: expect.stringMatching(/--metrics-insecure/) });
    await expect(server({ host: '0.0.0.0', token: '' }).listen()).rejects.toMatchObject({ code: 'KLS_ERR_CONFIG' });
    const open = await server({ host: '0.0.0.0', insecure: true }).listen();
    expect(await get(open.replace('0.0.0.0', '127.0.0.1'), '/metrics', 'klassify.internal:9464')).toBe(200);
    const guarded = await server({ host: '0.0.0.0', token: 's3cret' }).listen();
    expect(await get(guarded.replace('0.0.0.0', '127.0.0.1'), '/metrics', 'klassify.internal')).toBe(401);
  });

  it('bound to loopback, answers only loopback Host names; the probes stay open', async () => {
    const url = await server({}).listen();
    const port = new URL(url).port;
    expect(await get(url, '/metrics', `127.0.0.1:${port}`)).toBe(200);
    expect(await get(url, '/metrics', `localhost:${port}`)).toBe(200);
    expect(await get(url, '/metrics', `[::1]:${port}`)).toBe(200);
    expect(await get(url, '/metrics', `attacker.example:${port}`)).toBe(421);
    expect(await get(url, '/', 'attacker.example')).toBe(421);
    expect(await get(url, '/events', '127.0.0.1.attacker.example')).toBe(421);
    expect(await get(url, '/healthz', 'attacker.example')).toBe(200);
  });

  it('knows loopback names and addresses', () => {
    expect(['127.0.0.1', '127.8.9.10', 'localhost', 'LOCALHOST', '::1', '[::1]'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.5', '127.0.0.1.nip.io', 'example.com', ''].some(isLoopback)).toBe(false);
  });
});

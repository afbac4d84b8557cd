// A real ObserveServer on a free loopback port for unit tests of the HTTP layer, closed after each test.
// Defaults answer /metrics and /ready trivially; a test passes only the options it is about.
import { afterEach } from 'vitest';
import { ObserveServer, type ObserveServerOptions } from '../../src/observe/server.js';

/** Registers the after-each close in the calling test file; returns the factory. */
export function observeServers(defaults: Partial<ObserveServerOptions> = {}): (o?: Partial<ObserveServerOptions>) => ObserveServer {
  const servers: ObserveServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return (o = {}) => {
    const s = new ObserveServer({
      host: '127.0.0.1',
      port: 0,
      metrics: async () => ({ contentType: 'text/plain', body: '' }),
      ready: () => ({ ready: true, reasons: [] }),
      ...defaults,
      ...o,
    });
    servers.push(s);
    return s;
  };
}

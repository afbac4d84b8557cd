// The HTTP side of klassify: /metrics (Prometheus), /healthz (alive), /readyz (group joined and model
// loaded), / (the live dashboard) and /events (its Server-Sent Events stream). Bound to 127.0.0.1 by
// default; with a token, every request but the two probes needs "Authorization: Bearer <token>" (or
// ?token= for browsers, whose EventSource cannot set headers).
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { packageRoot } from '../paths.js';
import type { LiveSnapshot } from './live.js';

export interface ObserveServerOptions {
  host: string;
  port: number;
  token?: string | undefined;
  /** Serve on a non-loopback address without a token anyway (--metrics-insecure). */
  insecure?: boolean | undefined;
  metrics: () => Promise<{ contentType: string; body: string }>;
  ready: () => { ready: boolean; reasons: string[] };
  /** Snapshots kept for clients that connect later (5 minutes at one a second). */
  history?: number;
  /** Extra read-only JSON endpoints by path (the brand monitor's /brands/data). */
  json?: Readonly<Record<string, () => unknown>>;
  /** Live-stream (SSE) clients at most; a new one past it closes the oldest (default 32). */
  maxStreamClients?: number;
  /**
   * POST /admin/model {"path": "<model folder>"}: swap the live model (rollout/). Only with a token, and
   * only with it in an Authorization header (a cookie would let another site's page post with it).
   */
  adminModel?: (path: string) => Promise<{ status: number; body: unknown }>;
  /** Told when a stream client is closed to keep within the bounds (for a counter). */
  onStreamClientDropped?: (why: 'oldest' | 'slow') => void;
  /** A stream client with more than this many bytes unsent is too slow and is closed (default 1 MiB). */
  slowClientBytes?: number;
}

const DASHBOARD_DIR = join(packageRoot, 'src', 'observe', 'dashboard');
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: join(DASHBOARD_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: join(DASHBOARD_DIR, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: join(DASHBOARD_DIR, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  '/brands': { file: join(DASHBOARD_DIR, 'brands.html'), type: 'text/html; charset=utf-8' },
  '/brands.js': { file: join(DASHBOARD_DIR, 'brands.js'), type: 'text/javascript; charset=utf-8' },
  // uPlot is served from the installed package: no bundler, no build step at run time.
  '/vendor/uPlot.iife.min.js': { file: join(packageRoot, 'node_modules', 'uplot', 'dist', 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/vendor/uPlot.min.css': { file: join(packageRoot, 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** Names and addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** The host name of a Host header, without its port ("[::1]:9464" → "::1"). */
function hostName(header: string): string {
  const m = /^\[([^\]]*)\](?::\d+)?$/.exec(header);
  return m ? m[1]! : header.replace(/:\d+$/, '');
}

export class ObserveServer {
  readonly #o: ObserveServerOptions;
  readonly #server: Server;
  readonly #clients = new Set<ServerResponse>();
  readonly #history: LiveSnapshot[] = [];

  constructor(options: ObserveServerOptions) {
    this.#o = options;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`internal error: ${(err as Error).message}\n`);
      });
    });
  }

  async listen(): Promise<string> {
    const { host, token, insecure } = this.#o;
    if (!isLoopback(host) && (token === undefined || token === '') && insecure !== true) {
      throw new ConfigError(
        `the metrics server would listen on ${host} with no token: /metrics and the dashboard would be open to the network. ` +
          'Set KLASSIFY_METRICS_TOKEN (--metrics-token), or pass --metrics-insecure (KLASSIFY_METRICS_INSECURE=true) to serve it open on purpose',
      );
    }
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#o.port, this.#o.host, () => resolve());
    });
    const a = this.#server.address() as AddressInfo;
    return `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** Sends a snapshot to every dashboard client and keeps it for late joiners. */
  publish(snapshot: LiveSnapshot): void {
    this.#history.push(snapshot);
    const max = this.#o.history ?? 300;
    if (this.#history.length > max) this.#history.splice(0, this.#history.length - max);
    const frame = `data: ${JSON.stringify(snapshot)}\n\n`;
    const slow = this.#o.slowClientBytes ?? 1024 * 1024;
    for (const res of this.#clients) {
      // A client that does not read (a sleeping laptop's tab, a stalled proxy) would buffer every frame
      // in this process for ever: past the bound it is dropped, and its page reconnects when it wakes.
      if (res.writableLength > slow) {
        this.#clients.delete(res);
        res.destroy();
        this.#o.onStreamClientDropped?.('slow');
        continue;
      }
      res.write(frame);
    }
  }

  async close(): Promise<void> {
    for (const res of this.#clients) res.end();
    this.#clients.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** 'query' when the token came in the URL: the page then gets it as a cookie for its scripts and stream. */
  #authorized(req: IncomingMessage, url: URL): false | 'header' | 'query' | 'cookie' | 'open' {
    const token = this.#o.token;
    if (token === undefined || token === '') return 'open';
    const matches = (given: string): boolean => {
      const a = Buffer.from(given);
      const b = Buffer.from(token);
      return a.length === b.length && timingSafeEqual(a, b);
    };
    const header = req.headers.authorization ?? '';
    if (header.startsWith('Bearer ') && matches(header.slice(7))) return 'header';
    const query = url.searchParams.get('token');
    if (query !== null && matches(query)) return 'query';
    const cookie = /(?:^|;\s*)klassify_token=([^;]*)/.exec(req.headers.cookie ?? '')?.[1];
    if (cookie !== undefined && matches(decodeURIComponent(cookie))) return 'cookie';
    return false;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/admin/model') {
      await this.#admin(req, res);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    // Liveness and readiness stay open: orchestrator probes rarely carry tokens, and they reveal nothing.
    const open = url.pathname === '/healthz' || url.pathname === '/readyz';
    // Bound to loopback, only loopback names may be asked for: a web page of another site whose name a
    // DNS rebinding points at 127.0.0.1 must not read /metrics or the dashboard through the browser.
    if (!open && isLoopback(this.#o.host) && !isLoopback(hostName(req.headers.host ?? ''))) {
      res.writeHead(421, { 'content-type': 'text/plain' }).end('misdirected request: this server answers only to a loopback host name\n');
      return;
    }
    const auth = open ? 'open' : this.#authorized(req, url);
    if (auth === false) {
      res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain' }).end('unauthorized\n');
      return;
    }
    if (auth === 'query') {
      res.setHeader('set-cookie', `klassify_token=${encodeURIComponent(this.#o.token ?? '')}; HttpOnly; SameSite=Strict; Path=/`);
    }
    switch (url.pathname) {
      case '/metrics': {
        const m = await this.#o.metrics();
        res.writeHead(200, { 'content-type': m.contentType }).end(m.body);
        return;
      }
      case '/healthz':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
        return;
      case '/readyz': {
        const r = this.#o.ready();
        res.writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ ready: r.ready, reasons: r.reasons })}\n`);
        return;
      }
      case '/events':
        this.#subscribe(res);
        return;
      case '/history':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.#history));
        return;
    }
    const json = this.#o.json?.[url.pathname];
    if (json !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' }).end(JSON.stringify(json()));
      return;
    }
    const asset = ASSETS[url.pathname];
    if (asset === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const body = await readFile(asset.file);
    res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' }).end(body);
  }

  async #admin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const json = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    if (isLoopback(this.#o.host) && !isLoopback(hostName(req.headers.host ?? ''))) return json(421, { error: 'misdirected request: this server answers only to a loopback host name' });
    if (this.#o.adminModel === undefined) return json(404, { error: 'no model swap here' });
    if (this.#o.token === undefined || this.#o.token === '') return json(403, { error: 'admin endpoints need a token: set KLASSIFY_METRICS_TOKEN (--metrics-token)' });
    if (this.#authorized(req, new URL('http://localhost/')) !== 'header') {
      res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'application/json' }).end('{"error":"unauthorized: send Authorization: Bearer <token>"}\n');
      return;
    }
    let body = '';
    for await (const chunk of req) {
      body += (chunk as Buffer).toString();
      if (body.length > 64 * 1024) return json(413, { error: 'request body over 64 KB' });
    }
    let path: unknown;
    try {
      path = (JSON.parse(body) as { path?: unknown }).path;
    } catch {
      return json(400, { error: 'the body must be JSON: {"path": "<compiled model folder>"}' });
    }
    if (typeof path !== 'string' || path === '') return json(400, { error: 'the body must be JSON: {"path": "<compiled model folder>"}' });
    const answer = await this.#o.adminModel(path);
    json(answer.status, answer.body);
  }

  #subscribe(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    // History first, so a fresh page shows the last minutes at once.
    res.write(`event: history\ndata: ${JSON.stringify(this.#history)}\n\n`);
    // Bounded: each client costs a socket and its unsent frames. The oldest makes room for the newest,
    // which is most likely the one a person is looking at.
    const max = this.#o.maxStreamClients ?? 32;
    for (const old of this.#clients) {
      if (this.#clients.size < max) break;
      this.#clients.delete(old);
      old.end();
      this.#o.onStreamClientDropped?.('oldest');
    }
    this.#clients.add(res);
    res.on('close', () => this.#clients.delete(res));
  }
}

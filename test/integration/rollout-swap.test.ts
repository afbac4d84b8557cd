// Hot swap (rollout/) on the real inference pool with the shipped default model, no broker: pools start
// in this process like test/integration/pool-default-model.test.ts (KLASSIFY_TEST_NO_SERVICES=1 is enough).
// Candidates are copies of the default model folder in a temp folder, each changed the way the case needs:
//   v2         another version in its manifest (what `klassify compile --version` writes): accepted under load
//   permuted   labels [positive, neutral, negative] (what `--labels` in that order writes): refused, labels
//   damaged    word-embedding bytes in model.onnx overwritten, manifest untouched: refused before loading,
//              the file no longer matches the manifest's result.sha256
//   rehashed   the same damaged file with result.sha256/bytes/version recomputed as compile would write
//              them for it: loads, refused by the parity gate
// The manifest holds no hash of itself, so editing its fields is exactly what compiling with other
// options would have produced; only `result` describes model.onnx, and it is recomputed where it must be.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferencePool } from '../../inference-pool/index.js';
import { SwappableClassifier, verifiedFactory, type SwapRefused, type SwapResult } from '../../rollout/index.js';
import { BUILTIN_EVAL_TEXTS } from '../../src/compile/builtin-texts.js';
import { isKlassifyError, PoolClosedError } from '../../src/errors.js';
import { isFailure, type ClassifyOutcome } from '../../src/model/classifier.js';
import { copyModel, damageWeights } from '../helpers/model-copies.js';
import { defaultModelDir } from '../helpers/pool-model.js';

const NEW_VERSION = 'swap-test-v2';

function refused(r: SwapResult): SwapRefused {
  if (r.accepted) throw new Error(`expected a refusal, the swap was accepted: ${r.dir}`);
  return r;
}

describe('hot swap on the inference pool (default model)', () => {
  let root: string;
  let live: InferencePool;
  let sw: SwappableClassifier;
  /** Every pool the candidate factory started, by folder. */
  const started = new Map<string, InferencePool>();
  const dirs: Record<'v2' | 'permuted' | 'damaged' | 'rehashed', string> = { v2: '', permuted: '', damaged: '', rehashed: '' };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'klassify-swap-'));
    dirs.v2 = copyModel(root, 'v2', (m) => (m.version = NEW_VERSION));
    dirs.permuted = copyModel(root, 'permuted', (m) => {
      m.version = 'swap-test-permuted';
      m.labels = ['positive', 'neutral', 'negative'];
    });
    dirs.damaged = copyModel(root, 'damaged', (_m, dir) => damageWeights(dir));
    dirs.rehashed = copyModel(root, 'rehashed', (m, dir) => {
      damageWeights(dir);
      const bytes = readFileSync(join(dir, 'model.onnx'));
      const sha = createHash('sha256').update(bytes).digest('hex');
      m.result = { ...m.result, sha256: sha, bytes: bytes.byteLength };
      m.version = sha.slice(0, 12);
    });
    live = await InferencePool.start({ modelDir: defaultModelDir(), workers: 1 });
    const load = verifiedFactory(async (dir) => {
      const pool = await InferencePool.start({ modelDir: dir, workers: 1 });
      started.set(dir, pool);
      return pool;
    });
    sw = new SwappableClassifier({ live, load });
    // Live traffic for the parity sample: the 200 built-in texts, in calls of 16.
    for (let i = 0; i < BUILTIN_EVAL_TEXTS.length; i += 16) await sw.classify(BUILTIN_EVAL_TEXTS.slice(i, i + 16));
  }, 120_000);

  afterAll(async () => {
    await sw?.close();
    await Promise.all([live?.close(), ...[...started.values()].map((p) => p.close())]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('accepts a copy with another version while calls run: each call ends on the model it started on, then the old pool is closed', async () => {
    const oldVersion = live.model.version;
    interface Call { seq: number; expected: string; out?: ClassifyOutcome[]; error?: unknown; afterSwitch: boolean; afterSwap: boolean }
    const calls: Call[] = [];
    let seq = 0;
    let switched = false;
    let swapDone = false;
    let extra = Infinity;
    sw.once('swap_switched', () => (switched = true));
    const loop = async (offset: number): Promise<void> => {
      for (let i = offset; extra > 0; i += 8) {
        const at = i % (BUILTIN_EVAL_TEXTS.length - 8);
        // Read in the same tick as the call: the model the call must be served by.
        const call: Call = { seq: seq++, expected: sw.model.version, afterSwitch: false, afterSwap: false };
        try {
          call.out = await sw.classify(BUILTIN_EVAL_TEXTS.slice(at, at + 8));
        } catch (err) {
          call.error = err;
        }
        call.afterSwitch = switched;
        call.afterSwap = swapDone;
        calls.push(call);
        if (swapDone) extra--;
      }
    };
    const loops = [loop(0), loop(4)];
    const result = await sw.swap(dirs.v2);
    swapDone = true;
    extra = 6;
    await Promise.all(loops);

    expect(result).toMatchObject({ accepted: true, from: { version: oldVersion }, to: { version: NEW_VERSION }, drained: true });
    if (!result.accepted) return;
    expect(result.sample.live).toBeGreaterThanOrEqual(200);
    expect(result.figures.agreement).toBeGreaterThanOrEqual(0.9);

    calls.sort((a, b) => a.seq - b.seq);
    expect(calls.filter((c) => c.error !== undefined).map((c) => String(c.error))).toEqual([]);
    for (const c of calls) {
      expect(c.out!.filter(isFailure)).toEqual([]);
      expect(c.out!.map((o) => (isFailure(o) ? '' : o.model?.version))).toEqual(c.out!.map(() => c.expected));
    }
    // Old version up to the switch, new after it, never back.
    const versions = calls.map((c) => c.expected);
    const firstNew = versions.indexOf(NEW_VERSION);
    expect(firstNew).toBeGreaterThan(0);
    expect(versions.slice(0, firstNew).every((v) => v === oldVersion)).toBe(true);
    expect(versions.slice(firstNew).every((v) => v === NEW_VERSION)).toBe(true);
    // Calls were running on the old model at the switch; all of them settled before its pool was closed.
    const old = calls.filter((c) => c.expected === oldVersion);
    expect(old.some((c) => c.afterSwitch)).toBe(true);
    expect(old.every((c) => !c.afterSwap)).toBe(true);

    expect(live.health().ready).toBe(false);
    await expect(live.classify(['still there?'])).rejects.toBeInstanceOf(PoolClosedError);
    expect(sw.model.version).toBe(NEW_VERSION);
    expect(sw.health().ready).toBe(true);
  }, 120_000);

  it('refuses a copy whose labels are permuted, closes it, and keeps serving', async () => {
    const serving = sw.model.version;
    const r = refused(await sw.swap(dirs.permuted));
    expect(r).toMatchObject({ stage: 'labels', code: 'KLS_ERR_SWAP_LABELS', candidate: { labels: ['positive', 'neutral', 'negative'] } });
    expect(r.reason).toMatch(/differ from the live model's \[negative, neutral, positive\]/);
    expect(started.get(dirs.permuted)?.health().ready).toBe(false);
    await expectServing(serving);
  }, 120_000);

  it('refuses damaged weights before loading them: model.onnx no longer matches the manifest sha256', async () => {
    const serving = sw.model.version;
    const r = refused(await sw.swap(dirs.damaged));
    expect(r).toMatchObject({ stage: 'load', code: 'KLS_ERR_SWAP_LOAD' });
    // The sha256 the (untouched) manifest holds for the model it was compiled with.
    const said = (JSON.parse(readFileSync(join(dirs.damaged, 'manifest.json'), 'utf8')) as { result: { sha256: string } }).result.sha256;
    expect(r.reason).toMatch(new RegExp(`KLS_ERR_MANIFEST.*has sha256 .* its manifest says ${said.slice(0, 16)}`));
    expect(isKlassifyError(r.error.cause) && r.error.cause.code).toBe('KLS_ERR_MANIFEST');
    expect(started.has(dirs.damaged)).toBe(false);
    await expectServing(serving);
  }, 120_000);

  it('refuses damaged weights with an honest manifest through the parity gate, with the figures', async () => {
    const serving = sw.model.version;
    const r = refused(await sw.swap(dirs.rehashed));
    expect(r).toMatchObject({ stage: 'parity', code: 'KLS_ERR_SWAP_PARITY' });
    expect(r.figures!.compared).toBeGreaterThanOrEqual(200);
    expect(r.figures!.agreement).toBeLessThan(0.9);
    expect(r.reason).toMatch(/agreement \d+\.\d% \(\d+\/\d+\) is below 90\.0%/);
    expect(started.get(dirs.rehashed)?.health().ready).toBe(false);
    await expectServing(serving);
  }, 120_000);

  async function expectServing(version: string): Promise<void> {
    expect(sw.model.version).toBe(version);
    expect(sw.swapping).toBe(false);
    const out = await sw.classify(['I absolutely love this, best purchase I have made all year!']);
    expect(out[0]).toMatchObject({ label: 'positive', model: { version } });
  }
});

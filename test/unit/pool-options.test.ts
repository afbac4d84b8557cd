// Option validation at the pool's edge, and the GPU failure path (no GPU here: only the refusal is tested).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CUDA_INSTALL_HINT, assertCudaProviderInstalled } from '../../inference-pool/cuda.js';
import { InferencePool, poolOptionsFromConfig, resolvePoolOptions } from '../../inference-pool/index.js';
import { loadConfig } from '../../src/config.js';
import { ConfigError, CudaUnavailableError, type KlassifyError } from '../../src/errors.js';
import type { ModelManifest } from '../../src/model/manifest.js';
import { testModelDir } from '../helpers/pool-model.js';

const source = testModelDir();
const scratch = mkdtempSync(join(tmpdir(), 'klassify-pool-options-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the test model's folder (files linked) with its manifest changed. */
function variant(name: string, change: (m: ModelManifest) => void): string {
  const manifest = JSON.parse(readFileSync(join(source, 'manifest.json'), 'utf8')) as ModelManifest;
  change(manifest);
  const dir = join(scratch, name);
  mkdirSync(dir);
  for (const f of [manifest.files.model, manifest.files.tokenizer]) symlinkSync(join(source, f), join(dir, f));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

describe('resolvePoolOptions', () => {
  it('fills defaults from the model and the machine', () => {
    const o = resolvePoolOptions({ modelDir: source, workers: 2 });
    expect(o).toMatchObject({ workers: 2, threadsPerWorker: 1, maxQueue: 8, maxBatchTokens: 8192, gpus: [], pinning: undefined });
    expect(o.model.manifest.labels.length).toBeGreaterThanOrEqual(2);
    expect(Object.isFrozen(o)).toBe(true);
  });

  it('names the option in TypeErrors and RangeErrors', () => {
    expect(() => resolvePoolOptions({ modelDir: '' })).toThrow(/options.modelDir/);
    expect(() => resolvePoolOptions({ modelDir: source, workers: 0 })).toThrow(RangeError);
    expect(() => resolvePoolOptions({ modelDir: source, workers: 1.5 })).toThrow(/options.workers must be a positive integer/);
    expect(() => resolvePoolOptions({ modelDir: source, maxQueue: -1 })).toThrow(/options.maxQueue/);
    expect(() => resolvePoolOptions({ modelDir: source, gpus: [-1] })).toThrow(/options.gpus/);
  });

  it('refuses a token budget below the model max length, naming the knob', () => {
    expect(() => resolvePoolOptions({ modelDir: source, maxBatchTokens: 8 })).toThrow(/--pool-max-batch-tokens/);
    expect(() => resolvePoolOptions({ modelDir: source, maxBatchTokens: 8 })).toThrow(ConfigError);
  });

  it('checks core sets against the workers and the CPUs of this machine', () => {
    expect(() => resolvePoolOptions({ modelDir: source, workers: 2, cpuSets: ['0'] })).toThrow(/one set per worker/);
    expect(() => resolvePoolOptions({ modelDir: source, workers: 1, cpuSets: ['4095'] })).toThrow(/not available/);
    expect(resolvePoolOptions({ modelDir: source, workers: 1, cpuSets: ['0'] }).pinning).toEqual([{ cpus: [0], callerCpus: [0], ortAffinity: undefined }]);
  });

  it('maps the configuration knobs, one worker per GPU when GPUs are given', () => {
    const config = loadConfig({ env: {}, overrides: { model: { dir: source }, pool: { workers: 3, gpus: [0, 1], maxQueue: 5 } } });
    expect(poolOptionsFromConfig(config)).toMatchObject({ modelDir: source, workers: 2, gpus: [0, 1], maxQueue: 5 });
  });
});

describe('GPUs without the CUDA provider (the path testable without a GPU)', () => {
  it('fails fast with CudaUnavailableError saying how to install the provider', async () => {
    const cuda = variant('cuda', (m) => {
      m.target = 'cuda-fp16';
      m.executionProvider = 'cuda';
    });
    const started = Date.now();
    const err = await InferencePool.start({ modelDir: cuda, gpus: [0] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CudaUnavailableError);
    expect((err as KlassifyError).code).toBe('KLS_ERR_CUDA_UNAVAILABLE');
    expect((err as Error).message).toContain('onnxruntime-node-install=cuda12');
    expect((err as Error).message).toMatch(/CUDA 12 and cuDNN 9/);
    // Refused before any worker thread or model load: never a silent CPU run.
    expect(Date.now() - started).toBeLessThan(2000);
    expect(CUDA_INSTALL_HINT).toContain('.npmrc');
  });

  it('refuses platforms onnxruntime-node ships no CUDA provider for', () => {
    expect(() => assertCudaProviderInstalled([0], 'darwin', 'arm64')).toThrow(CudaUnavailableError);
  });

  it('refuses a CUDA model without --gpus (and, once CUDA is there, a CPU model with --gpus)', () => {
    const cuda = variant('cuda-only', (m) => {
      m.target = 'cuda-fp16';
      m.executionProvider = 'cuda';
    });
    expect(() => resolvePoolOptions({ modelDir: cuda })).toThrow(/run it with --gpus/);
  });
});

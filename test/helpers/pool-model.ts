// Which compiled model the pool tests run. CI runs the shipped default model
// (compiled-models/sentiment-minilm/cpu-int8); KLASSIFY_TEST_MODEL points the model-independent tests at
// any other compiled model folder (a dev model, another target).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MODEL } from '../../src/config-knobs.js';
import { packageRoot } from '../../src/paths.js';

export const DEFAULT_MODEL_DIR = join(packageRoot, DEFAULT_MODEL);

/** The shipped default model; throws (does not skip) when it is missing, since CI must have it. */
export function defaultModelDir(): string {
  if (!existsSync(join(DEFAULT_MODEL_DIR, 'manifest.json'))) {
    throw new Error(`the default model is missing: ${DEFAULT_MODEL_DIR} (compile it with klassify compile; see compiled-models/)`);
  }
  return DEFAULT_MODEL_DIR;
}

/** KLASSIFY_TEST_MODEL when set, else the default model. */
export function testModelDir(): string {
  const dir = process.env.KLASSIFY_TEST_MODEL;
  if (dir === undefined || dir === '') return defaultModelDir();
  if (!existsSync(join(dir, 'manifest.json'))) throw new Error(`KLASSIFY_TEST_MODEL=${dir} holds no manifest.json`);
  return dir;
}

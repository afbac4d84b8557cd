// Copies of the shipped default model folder, changed the way a test needs. The manifest holds no hash
// of itself, so editing its fields is what compiling with other options (--version, --labels) writes;
// only `result` describes model.onnx, and tests that change the file recompute it where they must.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeModel } from '../../src/compile/onnx-graph.js';
import { MANIFEST_FILE } from '../../src/model/manifest.js';
import { defaultModelDir } from './pool-model.js';

export type Manifest = { version: string; labels: string[]; result: { sha256: string; bytes: number } };

/** Copies the default model to root/name and applies `edit` to its manifest (and folder). */
export function copyModel(root: string, name: string, edit: (m: Manifest, dir: string) => void): string {
  const dir = join(root, name);
  cpSync(defaultModelDir(), dir, { recursive: true });
  editManifest(dir, (m) => edit(m, dir));
  return dir;
}

export function editManifest(dir: string, edit: (m: Manifest) => void): void {
  const file = join(dir, MANIFEST_FILE);
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  edit(manifest);
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Overwrites the largest initializer's bytes (the int8 word-embedding table) in place: same structure, garbage weights. */
export function damageWeights(dir: string): void {
  const file = join(dir, 'model.onnx');
  const bytes = readFileSync(file);
  const graph = decodeModel(bytes, file).graph!;
  const raw = (graph.initializer ?? []).map((t) => t.rawData).filter((r): r is Uint8Array => r instanceof Uint8Array).sort((a, b) => b.length - a.length)[0]!;
  const at = raw.byteOffset - bytes.byteOffset;
  let seed = 12345;
  for (let i = 0; i < raw.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    bytes[at + i] = seed >>> 24;
  }
  writeFileSync(file, bytes);
}

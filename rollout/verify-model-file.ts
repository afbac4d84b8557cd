// Checks a compiled model folder against its own manifest before a swap pays for loading it.
// loadManifest (src/model/manifest.ts) checks the schema and that the named files exist; nothing on the
// load path compares the model file with the sha256 and size that `klassify compile` recorded in
// `result`. A copy cut short or bit-flipped on its way to the node would load (ONNX Runtime parses
// damaged weights without complaint) and only the parity gate could notice; this catches it for the
// price of one hash over the file (about 0.1 s for the 23 MB default model), streamed, off the hot path.
// tokenizer.json has no hash in the manifest, so it is only checked by loading it.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ManifestError } from '../src/errors.js';
import { loadManifest, type LoadedModel } from '../src/model/manifest.js';

export async function verifyModelFile(dir: string): Promise<LoadedModel> {
  const model = loadManifest(dir);
  const { manifest, modelPath } = model;
  const { result } = manifest;
  // compile writes both as model.onnx; a manifest that names another file than the one it hashed is not one of ours.
  if (result.file !== manifest.files.model) {
    throw new ManifestError(`${dir}: manifest result.file (${result.file}) is not files.model (${manifest.files.model}), so the loaded file has no recorded hash`);
  }
  const { size } = await stat(modelPath);
  if (size !== result.bytes) {
    throw new ManifestError(`${modelPath} is ${size} bytes, its manifest says ${result.bytes}: damaged or replaced after compiling (copy or compile it again)`);
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(modelPath)) hash.update(chunk as Buffer);
  const sha = hash.digest('hex');
  if (sha !== result.sha256) {
    throw new ManifestError(
      `${modelPath} has sha256 ${sha.slice(0, 16)}…, its manifest says ${result.sha256.slice(0, 16)}…: damaged or replaced after compiling (copy or compile it again)`,
    );
  }
  return model;
}

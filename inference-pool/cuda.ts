// Fail fast when GPUs are asked for and ONNX Runtime's CUDA provider cannot load. ORT does not fall
// back to the CPU in that case (session creation throws "Failed to load shared library"), and klassify
// never silently runs a GPU deployment on CPU, so the pool refuses to start with a message that says
// how to install the provider.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CudaUnavailableError } from '../src/errors.js';

/** The files onnxruntime-node's install script downloads for CUDA (script/install-metadata.js, 1.30). */
const CUDA_FILES: Readonly<Record<string, readonly string[]>> = {
  'linux/x64': ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  'win32/x64': ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll'],
};

export const CUDA_INSTALL_HINT =
  'onnxruntime-node does not bundle its CUDA provider: install it with `npm install onnxruntime-node --onnxruntime-node-install=cuda12` ' +
  '(or replace `onnxruntime-node-install=skip` with `onnxruntime-node-install=cuda12` in .npmrc and run `npm ci`), ' +
  'and install CUDA 12 and cuDNN 9 on the host (their libraries on LD_LIBRARY_PATH). Without --gpus klassify runs on the CPU.';

/** Where onnxruntime-node keeps its native libraries for this platform. */
export function ortBinaryDir(platform: string = process.platform, arch: string = process.arch): string {
  const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return join(dirname(pkg), 'bin', 'napi-v6', platform, arch);
}

/** Throws CudaUnavailableError unless the CUDA provider files are present (the cheap half of the check). */
export function assertCudaProviderInstalled(gpus: readonly number[], platform: string = process.platform, arch: string = process.arch): void {
  const files = CUDA_FILES[`${platform}/${arch}`];
  if (files === undefined) {
    throw new CudaUnavailableError(`--gpus ${gpus.join(',')}: onnxruntime-node has no CUDA provider for ${platform}/${arch} (only linux/x64 and win32/x64)`);
  }
  const dir = ortBinaryDir(platform, arch);
  const missing = files.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    throw new CudaUnavailableError(`--gpus ${gpus.join(',')}: the CUDA provider is not installed (${missing.join(', ')} missing from ${dir}). ${CUDA_INSTALL_HINT}`);
  }
}

/** True when a session-creation error means the CUDA provider or its libraries failed to load. */
export function isCudaLoadFailure(message: string): boolean {
  return /cuda|cudnn|cublas|providers_shared|Failed to load shared library/i.test(message);
}

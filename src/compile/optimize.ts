// Graph optimization by ONNX Runtime itself: create a CPU session with a graphOptimizationLevel and an
// optimizedModelFilePath, and ORT writes the graph it would run (constant folding, fusions) to that file.
//
// Which level the compiled CPU models get was measured, not assumed (ORT 1.30, this 2-core EPYC VM): for
// the tiny 2-layer test model and a 6-layer MiniLM classifier, fp32 and int8, 'extended' and 'all' saved
// byte-identical files (same sha256: FusedMatMul, BiasGelu/Gelu, LayerNormalization, DynamicQuantizeMatMul),
// so their speed is the same by construction. What 'all' adds is layout work (NCHWc) for convolutions,
// and with it ORT's warning that the saved file "may contain hardware specific optimizations, and should
// only be used in the same environment the model was optimized in". So 'extended' is the default: as fast
// for these models, and its file loads on any CPU. --opt-level all stays available for convolutional models.
import * as ort from 'onnxruntime-node';
import { CompileError } from '../errors.js';

export type OptimizationLevel = 'basic' | 'extended' | 'all';

/** Levels whose saved graph stays portable (no hardware-specific layout or kernels baked in). */
export function isPortable(level: OptimizationLevel): boolean {
  return level !== 'all';
}

export async function optimizeWithOrt(model: Uint8Array, outPath: string, level: OptimizationLevel, threads: number): Promise<void> {
  let session: ort.InferenceSession | undefined;
  try {
    session = await ort.InferenceSession.create(model, {
      graphOptimizationLevel: level,
      optimizedModelFilePath: outPath,
      intraOpNumThreads: threads,
      // ORT warns on stderr when it saves an 'all' graph; the manifest and report already say so.
      logSeverityLevel: 3,
    });
  } catch (err) {
    throw new CompileError(`ONNX Runtime graph optimization (${level}) failed: ${(err as Error).message}`, { cause: err });
  } finally {
    await session?.release();
  }
}

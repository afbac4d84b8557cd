// Graph optimization by ONNX Runtime itself: create a CPU session with a graphOptimizationLevel and an
// optimizedModelFilePath, and ORT writes the graph it would run (constant folding, fusions) to that file.
//
// Which level the compiled CPU models get was measured, not assumed (2 shared Zen4 cores, ORT 1.30, median
// of alternating runs, B=1/8/32 x 16/32/64 tokens):
//   - the tiny 2-layer test model and the 6-layer MiniLM classifier produce the same graph at 'extended'
//     and 'all' (same node types and counts: FusedMatMul, BiasGelu, LayerNormalization), for fp32 and int8;
//     speed is the same within noise;
//   - 'all' adds layout transforms (NCHWc) that only matter for convolutions, and ORT then warns that the
//     saved file "may contain hardware specific optimizations, and should only be used in the same
//     environment the model was optimized in".
// So 'extended' is the default: as fast here, and its saved graph is portable across x86/ARM CPUs.
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

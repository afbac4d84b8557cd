// The ONNX Runtime session options of one worker, from the model's manifest and the pool's settings.
// Pure: the worker receives the result as data (messages.ts InitTask).
import type { InferenceSession } from 'onnxruntime-node';
import type { ModelManifest } from '../src/model/manifest.js';
import type { WorkerPinning } from './pinning.js';

export interface SessionPlanInput {
  manifest: Pick<ModelManifest, 'optimization' | 'executionProvider'>;
  threadsPerWorker: number;
  pinning: WorkerPinning | undefined;
  gpu: number | undefined;
  /** More ORT threads in the pool than CPUs to run them. */
  oversubscribed: boolean;
  /** ORT log severity (0 verbose … 4 fatal). */
  logSeverityLevel: 0 | 1 | 2 | 3 | 4;
}

export function sessionOptionsFor(input: SessionPlanInput): InferenceSession.SessionOptions {
  const { manifest, threadsPerWorker, pinning, gpu } = input;
  const sessionConfig: Record<string, string> = {};
  if (pinning?.ortAffinity !== undefined) sessionConfig.intra_op_thread_affinities = pinning.ortAffinity;
  if (threadsPerWorker > 1 && input.oversubscribed) {
    // Idle intra-op threads spin for a while before sleeping, which pays off only when they own their
    // core; with more threads than cores the spinning steals time from the workers doing real work.
    sessionConfig['intra_op.allow_spinning'] = '0';
  }
  const options: InferenceSession.SessionOptions = {
    executionProviders: gpu === undefined ? ['cpu'] : [{ name: 'cuda', deviceId: gpu }],
    intraOpNumThreads: threadsPerWorker,
    // One graph node at a time; parallelism comes from the intra-op threads and from the workers.
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // A compiled model already carries its ORT optimizations. 'all' was saved with hardware-specific
    // kernels (manifest.optimization.portable false): running the optimizer again only costs load time.
    // Lower levels get ORT's remaining ('all'-level) rewrites at load, as ORT does by default.
    graphOptimizationLevel: manifest.optimization.level === 'all' ? 'disabled' : 'all',
    // Memory, measured here (one session, one thread, calls of random shapes, rows x 4..128 tokens, after a
    // warm-up at 8192 tokens; RSS growth after the warm-up; 2 shared cores, so speed figures were noise):
    //   arena on,  pattern on : int8 tiny +38 MB in 450 calls, still rising; MiniLM fp32 +7 MB in 63 calls
    //   arena on,  pattern off: int8 tiny  +8 MB in 400 calls, flat;        MiniLM fp32 +8 MB in 67 calls  <- chosen
    //   arena off, pattern off: int8 tiny +13..49 MB, swinging; MiniLM fp32 swinging 270..390 MB (malloc churn)
    // The memory pattern is planned and cached per input shape, and a text classifier meets a new
    // (rows, length) shape on most calls, so its cache only grows. The arena keeps the peak of the largest
    // call, which the token budget bounds and the warm-up reaches at start (so a too-large budget fails at
    // deploy time, not on the first long batch). onnxruntime-node does not expose the CPU arena's extend
    // strategy (OrtArenaCfg); it keeps ORT's default, kNextPowerOfTwo.
    enableCpuMemArena: true,
    enableMemPattern: false,
    logSeverityLevel: input.logSeverityLevel,
  };
  // onnxruntime-node rejects `extra: undefined` ("must be an object"): set it only when there is something.
  if (Object.keys(sessionConfig).length > 0) options.extra = { session: sessionConfig };
  return options;
}

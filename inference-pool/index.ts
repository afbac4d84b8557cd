// The inference pool's public surface.
export { InferencePool, type PoolMemory, type WorkerStatus } from './pool.js';
export { poolOptionsFromConfig, resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions } from './options.js';
export type { BatchEvent, PoolEventMap, WorkerFailureEvent } from './events.js';
export type { WorkerReady, WorkerMemory } from './messages.js';
export { planBatches, paddedTokens, type SubBatch } from './batch-plan.js';
export { parseCpuSet, planPinning, type WorkerPinning } from './pinning.js';

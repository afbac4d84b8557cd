// Test hooks of the inference pool; nothing in the product imports this file. A fault rides on the next
// classify task to the worker, which obeys it on the first `attempts` attempts (see messages.ts Fault):
//   { mode: 'exit',  attempts: 1 }  the worker thread dies; the retry on another worker succeeds
//   { mode: 'throw', attempts: 2 }  both attempts throw; every text fails with KLS_ERR_INFERENCE
//   { mode: 'hang',  attempts: 1 }  the worker blocks until taskTimeoutMs terminates it
//   { mode: 'exit', attempts: 0, poison: 'X' }  armed until clearFault(): any task with a text containing
//                                   'X' kills its worker, on every attempt (a record that crashes the runtime)
import type { Fault } from './messages.js';
import { kArmFault, type InferencePool } from './pool.js';

export type { Fault };

export function injectFault(pool: InferencePool, fault: Fault): void {
  pool[kArmFault](fault);
}

export function clearFault(pool: InferencePool): void {
  pool[kArmFault](undefined);
}

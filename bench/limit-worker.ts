// One session of the bench's limit on its own thread (bench/limit.ts): session.run blocks the JS thread
// it is called from, so N sessions side by side need N threads. It loads the model once, then for each
// run pulls batches from a counter shared with the other sessions' threads until none are left.
import { parentPort, workerData } from 'node:worker_threads';
import { loadManifest } from '../src/model/manifest.js';
import { loadBenchRunner } from './pool.js';

interface Init {
  modelDir: string;
  threads: number;
}

export interface RunRequest {
  batches: string[][];
  /** Int32Array(1) over a SharedArrayBuffer: the next batch index, taken with Atomics.add. */
  next: SharedArrayBuffer;
}

const init = workerData as Init;
const model = loadManifest(init.modelDir);
const { runner } = await loadBenchRunner(model, model.modelPath, init.threads);
const port = parentPort!;
port.on('message', (msg: RunRequest | 'close') => {
  void (async () => {
    if (msg === 'close') {
      await runner.release();
      port.postMessage('closed');
      return;
    }
    const next = new Int32Array(msg.next);
    for (let i = Atomics.add(next, 0, 1); i < msg.batches.length; i = Atomics.add(next, 0, 1)) await runner.classify(msg.batches[i] as string[]);
    port.postMessage('done');
  })();
});
port.postMessage('ready');

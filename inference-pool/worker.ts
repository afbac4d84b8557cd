// The piscina task handler of an inference worker. Each worker thread holds one model (model-runner.ts),
// loaded by an `init` task before the pool sends it anything else.
//
// A failing task is data, not a crash (piscina's worker.ts habit): every error is caught and returned as
// { ok: false, error: { code, message } }, so its code survives the thread boundary. The pool replaces
// a worker after any failed task anyway, since a session that threw may not be trustworthy.
import { codeOf, messageOf } from '../src/errors.js';
import type { ClassifyTask, Fault, WorkerReply, WorkerTask } from './messages.js';
import { ModelRunner } from './model-runner.js';

let runner: ModelRunner | undefined;
/** The task before this one: tasks run strictly one after another (see below). */
let previous: Promise<unknown> = Promise.resolve();

const NOOP_REPLY: WorkerReply<null> = Object.freeze({ ok: true, value: null });

/**
 * The pool keeps up to two tasks in a worker (slot.ts SLOT_CAPACITY), and piscina starts a handler for
 * each message as it arrives; session.run yields to the event loop, so two tasks would interleave and
 * overwrite each other's input buffers. Chaining them keeps one at a time; the second is already here
 * when the first ends.
 */
export default function handle(task: WorkerTask): Promise<WorkerReply<unknown>> {
  const result = previous.then(() => execute(task));
  previous = result;
  return result;
}

async function execute(task: WorkerTask): Promise<WorkerReply<unknown>> {
  try {
    switch (task.kind) {
      case 'noop':
        return NOOP_REPLY;
      case 'init': {
        if (runner !== undefined) return fail('KLS_ERR_INFERENCE', 'worker already initialized');
        const loaded = await ModelRunner.load(task);
        // Cache the runner before answering: no classify task can reach a half-started worker.
        runner = loaded.runner;
        return { ok: true, value: loaded.ready };
      }
      case 'classify':
        if (runner === undefined) return fail('KLS_ERR_INFERENCE', 'worker has no model loaded');
        if (task.fault !== undefined && strikes(task.fault, task)) injectFault(task.fault, task);
        return { ok: true, value: await runner.classify(task.texts) };
    }
  } catch (err) {
    return { ok: false, error: { code: codeOf(err), message: messageOf(err) } };
  }
}

function fail(code: string, message: string): WorkerReply<never> {
  return { ok: false, error: { code, message } };
}

function strikes(fault: Fault, task: ClassifyTask): boolean {
  const poison = fault.poison;
  return poison === undefined ? task.attempt < fault.attempts : task.texts.some((t) => t.includes(poison));
}

/** Test-only faults (see messages.ts Fault): a crash, a throwing session, a stuck worker. */
function injectFault(fault: Fault, task: ClassifyTask): void {
  switch (fault.mode) {
    case 'exit':
      // In a worker thread process.exit ends only this thread, like a fatal error inside it would.
      process.exit(70);
      break;
    case 'throw':
      throw new Error(`injected fault on attempt ${task.attempt}`);
    case 'hang': {
      // Blocks this thread without burning CPU until the pool's task timeout terminates it.
      const cell = new Int32Array(new SharedArrayBuffer(4));
      for (;;) Atomics.wait(cell, 0, 0, 1000);
    }
  }
}

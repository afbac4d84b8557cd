// A test's steps with their timings, printed when the test fails. A test that times out says nothing about
// where its time went; this says which step was still running and how long each one before it took.
import { onTestFailed } from 'vitest';

export interface Steps {
  /** Runs one named step and records when it started and how long it took. */
  run<T>(name: string, step: () => Promise<T>): Promise<T>;
  /** Adds lines (e.g. a pipeline's output) to what a failure prints. */
  attach(describe: () => string): void;
  report(): string;
}

export function steps(): Steps {
  const t0 = Date.now();
  const log: { name: string; at: number; ms?: number; failed?: boolean }[] = [];
  const attached: (() => string)[] = [];
  const s: Steps = {
    async run(name, step) {
      const entry: (typeof log)[number] = { name, at: Date.now() - t0 };
      log.push(entry);
      try {
        return await step();
      } catch (err) {
        entry.failed = true;
        throw err;
      } finally {
        entry.ms = Date.now() - t0 - entry.at;
      }
    },
    attach(describe) {
      attached.push(describe);
    },
    report() {
      const lines = log.map((e) => `  +${(e.at / 1000).toFixed(1)} s  ${e.name}: ${e.ms === undefined ? `STILL RUNNING after ${((Date.now() - t0 - e.at) / 1000).toFixed(1)} s` : `${(e.ms / 1000).toFixed(1)} s${e.failed ? ' (failed)' : ''}`}`);
      return [`steps:`, ...lines, ...attached.map((d) => d())].join('\n');
    },
  };
  onTestFailed(() => {
    process.stdout.write(`${s.report()}\n`);
  });
  return s;
}

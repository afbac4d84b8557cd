// Progress of a compile: a bar on an interactive terminal, one plain line per step otherwise (CI logs and
// pipes get readable text instead of carriage-return animation). Always on stderr: stdout is for results.
import cliProgress from 'cli-progress';

export interface CompileProgress {
  /** A new step starts; `index` counts from 1. */
  step(index: number, total: number, label: string): void;
  /** Work inside the current step (batches of the parity run, benchmark cells). */
  tick(done: number, total: number): void;
  /** The compile ended; `ok` false leaves the bar where the failure happened. */
  end(ok: boolean): void;
}

export const silentProgress: CompileProgress = { step: () => undefined, tick: () => undefined, end: () => undefined };

/** Plain lines: "[3/8] quantize int8 (DynamicQuantizeMatMul)". */
export function lineProgress(stream: NodeJS.WritableStream): CompileProgress {
  return {
    step: (index, total, label) => void stream.write(`[${index}/${total}] ${label}\n`),
    tick: () => undefined,
    end: () => undefined,
  };
}

/** A cli-progress bar; each step is one unit, split by its ticks. */
export function barProgress(stream: NodeJS.WritableStream): CompileProgress {
  const bar = new cliProgress.SingleBar(
    { format: 'compile [{bar}] {percentage}% | {step}', stream, hideCursor: true, clearOnComplete: false, barsize: 30 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let current = 0;
  let label = '';
  const scale = 100; // bar units per step, so ticks can move it within a step
  return {
    step: (index, total, text) => {
      current = index - 1;
      label = `${index}/${total} ${text}`;
      if (!started) {
        bar.start(total * scale, 0, { step: label });
        started = true;
      } else {
        bar.setTotal(total * scale);
        bar.update(current * scale, { step: label });
      }
    },
    tick: (done, total) => {
      if (started && total > 0) bar.update(current * scale + Math.floor((done / total) * (scale - 1)), { step: label });
    },
    end: (ok) => {
      if (!started) return;
      if (ok) bar.update(bar.getTotal(), { step: 'done' });
      bar.stop();
      started = false;
    },
  };
}

/** The right reporter for `stream`: a bar when it is a TTY, plain lines otherwise. */
export function progressFor(stream: NodeJS.WriteStream): CompileProgress {
  return stream.isTTY ? barProgress(stream) : lineProgress(stream);
}

// Progress for long commands: a bar on a terminal, a line every few seconds in logs and CI.
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, extra?: string): void;
  stop(): void;
}

export function progress(label: string, total: number | undefined, unit = 'msgs'): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: total
          ? `${label} [{bar}] {percentage}% {value}/{total} ${unit} {extra}`
          : `${label} {value} ${unit} {extra}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total ?? 0, 0, { extra: '' });
    return { update: (done, extra = '') => bar.update(done, { extra }), stop: () => bar.stop() };
  }
  let last = 0;
  let lastDone = 0;
  return {
    update: (done, extra = '') => {
      lastDone = done;
      const now = Date.now();
      if (now - last < 5_000) return;
      last = now;
      process.stderr.write(`${label}: ${done}${total ? `/${total}` : ''} ${unit} ${extra}\n`);
    },
    stop: () => process.stderr.write(`${label}: ${lastDone}${total ? `/${total}` : ''} ${unit} done\n`),
  };
}

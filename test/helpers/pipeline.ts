// Runs `klassify start` as its own process, as a user would, against the test broker.
import type { ChildProcess } from 'node:child_process';
import { spawnCli } from './cli.js';
import { brokers } from './kafka.js';

export interface RunningPipeline {
  child: ChildProcess;
  /** Dashboard/metrics base URL. */
  url: string;
  output: () => string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface PipelineTopics {
  input: string;
  output: string;
  dlq: string;
  group: string;
}

export function pipelineArgs(t: PipelineTopics, extra: string[] = []): string[] {
  return [
    'start',
    '--brokers', brokers().join(','),
    '--input', t.input,
    '--output', t.output,
    '--dlq', t.dlq,
    '--group', t.group,
    '--metrics-port', '0',
    '--workers', '2',
    ...extra,
  ];
}

export async function startPipeline(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 90_000): Promise<RunningPipeline> {
  const child = spawnCli(args, env);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`klassify start did not come up in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = (): void => {
      const m = /klassify is running[\s\S]*?dashboard\s+(http:\/\/\S+?)\/\s/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      } else if (/klassify is running[\s\S]*metrics\s+off/.test(out)) {
        clearTimeout(timer);
        resolve('');
      }
    };
    child.stderr?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`klassify start exited (${code}) before it was ready:\n${out}`));
    });
  });
  // Ready means the group is joined and the model loaded: wait for /readyz.
  if (url) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await fetch(`${url}/readyz`).catch(() => undefined);
      if (r?.ok) break;
      if (Date.now() > deadline) throw new Error(`pipeline never became ready:\n${out}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }
  return {
    child,
    url,
    output: () => out,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      // A process that outlives its own shutdown timeout by far is hung: kill it and say so (code -2),
      // so the test fails with the output instead of timing out without a word.
      const hung = setTimeout(() => {
        out += '\n[test] still running 90 s after the signal: SIGKILL\n';
        child.kill('SIGKILL');
      }, 90_000);
      const code = await exited;
      clearTimeout(hung);
      return out.includes('[test] still running') ? -2 : code;
    },
  };
}

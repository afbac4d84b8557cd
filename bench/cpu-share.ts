// Where the machine's cores went while a bench phase ran, from /proc (Linux): the pipeline's main thread
// (Kafka client, batching, ordered flush), its other threads (the inference workers, plus V8's GC helpers
// and libuv's I/O pool), the broker, the bench process itself (the load generator), everything else, and
// idle. On a 2-core machine the pipeline shares its cores with the broker and the load generator, and the
// latency budget alone cannot say how much of "model run" is the model and how much is waiting for a core.
//
// Units: /proc/stat and /proc/<pid>/stat both count USER_HZ ticks, so every figure is a ratio of ticks and
// needs no clock rate: "cores busy" = a process's ticks / (all CPUs' ticks / number of CPUs).
import { readFileSync } from 'node:fs';

export interface CpuProcess {
  label: string;
  pid: number;
  /** Split the process into its main thread (tid = pid) and the rest. */
  splitMain?: { main: string; rest: string };
}

export interface CpuSnapshot {
  /** Sum of every field of /proc/stat's "cpu" line, and its idle + iowait part. */
  total: number;
  idle: number;
  cpus: number;
  /** utime + stime ticks by label. */
  ticks: Map<string, number>;
}

export interface CpuShareRow {
  label: string;
  /** Cores kept busy on average over the window (1 = one core all the time). */
  cores: number;
}

export interface CpuShares {
  cpus: number;
  rows: CpuShareRow[];
}

/** utime + stime of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat line (the comm may hold spaces and parentheses). */
export function statTicks(line: string): number {
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  // After the comm: state is field 3 of the full line, utime 14 and stime 15, so indices 11 and 12 here.
  return Number(fields[11]) + Number(fields[12]);
}

/** The aggregate "cpu" line of /proc/stat: all ticks, idle + iowait ticks, and the number of cpuN lines. */
export function procStatTotals(text: string): { total: number; idle: number; cpus: number } {
  const lines = text.split('\n');
  const agg = lines.find((l) => l.startsWith('cpu '));
  if (!agg) throw new Error('/proc/stat has no aggregate cpu line');
  const v = agg.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest and guest_nice are already inside user and nice)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, idle: (v[3] ?? 0) + (v[4] ?? 0), cpus: lines.filter((l) => /^cpu\d+ /.test(l)).length };
}

function readTicks(path: string): number | undefined {
  try {
    return statTicks(readFileSync(path, 'utf8'));
  } catch {
    return undefined; // the process or thread is gone
  }
}

export function cpuSnapshot(processes: readonly CpuProcess[]): CpuSnapshot {
  const { total, idle, cpus } = procStatTotals(readFileSync('/proc/stat', 'utf8'));
  const ticks = new Map<string, number>();
  for (const p of processes) {
    const all = readTicks(`/proc/${p.pid}/stat`);
    if (all === undefined) continue;
    if (!p.splitMain) {
      ticks.set(p.label, all);
      continue;
    }
    // /proc/<pid>/stat counts the threads that have exited too, so "rest" is the whole minus the main thread.
    const main = readTicks(`/proc/${p.pid}/task/${p.pid}/stat`) ?? 0;
    ticks.set(p.splitMain.main, main);
    ticks.set(p.splitMain.rest, all - main);
  }
  return { total, idle, cpus, ticks };
}

/** Cores busy per label between two snapshots, then "everything else" (busy, not listed) and "idle". */
export function cpuShares(before: CpuSnapshot, after: CpuSnapshot): CpuShares {
  const cpus = after.cpus || 1;
  const wall = (after.total - before.total) / cpus;
  const cores = (ticks: number): number => (wall > 0 ? Math.round((ticks / wall) * 100) / 100 : 0);
  const rows: CpuShareRow[] = [];
  let listed = 0;
  for (const [label, t] of after.ticks) {
    const d = Math.max(0, t - (before.ticks.get(label) ?? 0));
    listed += d;
    rows.push({ label, cores: cores(d) });
  }
  const idle = after.idle - before.idle;
  const busy = after.total - before.total - idle;
  rows.push({ label: 'everything else', cores: cores(Math.max(0, busy - listed)) }, { label: 'idle', cores: cores(idle) });
  return { cpus, rows };
}

/** The bench's pids, as labelled rows: the pipeline split by thread, the broker when it is ours, this process. */
export function benchProcesses(pipelinePid: number | undefined, brokerPid: number | undefined): CpuProcess[] {
  const out: CpuProcess[] = [];
  if (pipelinePid !== undefined) {
    out.push({ label: 'klassify', pid: pipelinePid, splitMain: { main: 'klassify main thread', rest: 'klassify other threads (inference workers, GC, I/O)' } });
  }
  if (brokerPid !== undefined) out.push({ label: 'broker (Kafka JVM)', pid: brokerPid });
  out.push({ label: 'bench process (load generator)', pid: process.pid });
  return out;
}

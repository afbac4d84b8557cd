// Consumer-group status after Burrow's evaluation rules, over a sliding window of samples per partition.
// Pure: feed it samples, read statuses. https://github.com/linkedin/Burrow/wiki/Consumer-Lag-Evaluation-Rules
//
//  OK       lag was zero at some point in the window, or the consumer keeps up (lag not growing)
//  WARNING  the consumer commits (offsets move) but lag grew across the whole window
//  STALLED  members are in the group, lag is non-zero, and the committed offset did not move in the window
//  STOPPED  lag is non-zero and the group has no members (nobody is consuming)
//  ERROR    the partition could not be read (missing topic or partition, broker error)
//
// Burrow tells STOPPED from STALLED by commit timestamps; the Kafka protocol does not expose those, so
// klassify uses group membership instead (a group with members but frozen offsets is stalled, an empty
// group is stopped).

export type LagStatus = 'OK' | 'WARNING' | 'STALLED' | 'STOPPED' | 'ERROR';

export const STATUS_SEVERITY: Readonly<Record<LagStatus, number>> = { OK: 0, WARNING: 1, STALLED: 2, STOPPED: 3, ERROR: 4 };

export interface LagSample {
  at: number;
  committed: number;
  logEnd: number;
  lag: number;
  error?: string | undefined;
}

export interface WindowOptions {
  /** Samples kept per partition (Burrow's default window is 10 commits). */
  size: number;
}

export function evaluatePartition(window: readonly LagSample[], groupHasMembers: boolean): LagStatus {
  const last = window[window.length - 1];
  if (last === undefined) return 'OK';
  if (last.error !== undefined) return 'ERROR';
  // Rule 1: any zero lag in the window means the consumer caught up recently.
  if (window.some((s) => s.lag === 0)) return 'OK';
  if (!groupHasMembers) return 'STOPPED';
  if (window.length < 2) return 'OK';
  const first = window[0] as LagSample;
  // Rule 3: offsets frozen while lag stays non-zero.
  if (window.every((s) => s.committed === first.committed)) return 'STALLED';
  // Rule 2: lag grew at every step of a full window although offsets move.
  let growing = true;
  for (let i = 1; i < window.length; i++) {
    if ((window[i] as LagSample).lag <= (window[i - 1] as LagSample).lag) growing = false;
  }
  return growing && window.length >= 3 ? 'WARNING' : 'OK';
}

export function worst(statuses: Iterable<LagStatus>): LagStatus {
  let w: LagStatus = 'OK';
  for (const s of statuses) if (STATUS_SEVERITY[s] > STATUS_SEVERITY[w]) w = s;
  return w;
}

/** Keeps the last `size` samples per partition key. */
export class LagWindows {
  readonly #windows = new Map<string, LagSample[]>();
  constructor(private readonly options: WindowOptions) {}

  add(key: string, sample: LagSample): LagSample[] {
    const w = this.#windows.get(key) ?? [];
    w.push(sample);
    if (w.length > this.options.size) w.splice(0, w.length - this.options.size);
    this.#windows.set(key, w);
    return w;
  }

  get(key: string): readonly LagSample[] {
    return this.#windows.get(key) ?? [];
  }
}

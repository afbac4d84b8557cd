// The rule that keeps exactly-once writes exact: a partition's transaction must start at the offset the
// group has committed, as read after this instance's producer was initialised (which fences every older
// producer of the partition). Between that read and the commit nobody else can commit for the partition:
// they would have to init the same transactional id, which fences this producer and fails its
// transaction. A run that starts below that point holds records someone already wrote (a zombie waking
// up with its old ledger; a transaction that committed just before its connection broke); a run that
// starts above it would skip records. Pure: the sink acts on the answer (exactly-once-sink.ts).

export type RunPlan =
  /** The run starts where the committed offset is (or nothing is committed yet): write it. */
  | { action: 'send' }
  /** Records below `offset` are written already: leave them out, hand the rest out again. */
  | { action: 'skip-below'; offset: number }
  /** The records from `offset` up to the run are not in the ledger: drop the partition's ledger and
   *  fetch again from `offset`. */
  | { action: 'resync'; offset: number };

/**
 * `next`: the committed offset as the partition's current producer knows it (undefined: the group has
 * none, so nobody wrote for this partition since this producer's init). `first`: the run's first offset.
 */
export function planRun(next: number | undefined, first: number): RunPlan {
  if (next === undefined || first === next) return { action: 'send' };
  if (first < next) return { action: 'skip-below', offset: next };
  return { action: 'resync', offset: next };
}

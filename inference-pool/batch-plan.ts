// How a worker cuts one task's texts into ONNX Runtime calls. Pure: no ORT, no I/O, unit-tested alone.
//
// Padding is the biggest lever on CPU (notes/onnxruntime-facts.md: sorting by length and padding each call
// only to its own longest row ran ~5x faster than padding everything to 128). So rows are sorted by token
// count and cut into calls whose padded size `rows x longest` stays within the token budget, the rule of
// text-embeddings-inference's queue (core/src/queue.rs, max_batch_tokens): that product is what ORT
// allocates and computes for a padded batch, so it bounds both worker memory and the time of one call.
//
// TEI fills each batch greedily up to the budget. After sorting, that mixes short and long rows in one
// call (a budget of 8192 takes lengths 8..50 together and pads the 8s to 50). Where to cut the sorted rows
// is a small shortest-path problem instead: minimise the sum over calls of `rows x longest + overhead`,
// where the overhead is the fixed cost of a call expressed in tokens. O(rows x rows-per-call), about
// 0.1 ms for a task of 256 texts.

export interface SubBatch {
  /** Positions in the task's input, shortest first. */
  readonly rows: readonly number[];
  /** Padded length of this call: the token count of its longest row. */
  readonly seqLen: number;
}

export interface BatchPlanOptions {
  /** Most padded tokens (rows x seqLen) in one call. */
  maxBatchTokens: number;
  /** Most rows in one call (TEI's max_batch_requests); default 1024. */
  maxRows?: number;
  /**
   * Fixed cost of one session.run, in tokens of compute: what an extra call must save in padding to be
   * worth making. Default 32: ORT's per-call cost (~0.1-0.3 ms) is the time of a few dozen tokens of a
   * MiniLM-sized model on one core (notes/onnxruntime-facts.md, B=1 vs B=16 rows).
   */
  callOverheadTokens?: number;
}

/**
 * Sorts positions by `lengths` and cuts them into calls within the budget at the least padded cost.
 * Positions with length 0 are left out (nothing to run: the caller reports them as failed items).
 * Throws a RangeError when one row alone exceeds the budget: the pool checks at start that the model's
 * max length fits, so this means a caller bug, not bad input.
 */
export function planBatches(lengths: readonly number[], options: BatchPlanOptions): SubBatch[] {
  const { maxBatchTokens } = options;
  const maxRows = options.maxRows ?? 1024;
  const overhead = options.callOverheadTokens ?? 32;
  if (!Number.isInteger(maxBatchTokens) || maxBatchTokens < 1) throw new RangeError(`maxBatchTokens must be a positive integer, got ${maxBatchTokens}`);
  if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError(`maxRows must be a positive integer, got ${maxRows}`);

  const order: number[] = [];
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i] as number;
    if (length > maxBatchTokens) throw new RangeError(`row ${i} has ${length} tokens, more than maxBatchTokens ${maxBatchTokens}`);
    if (length > 0) order.push(i);
  }
  // Array.prototype.sort is stable, so equal lengths keep input order (deterministic plans for tests).
  order.sort((a, b) => (lengths[a] as number) - (lengths[b] as number));

  // cost[j]: least cost of running the j shortest rows; from[j]: where the last call of that plan starts.
  const m = order.length;
  const cost = new Float64Array(m + 1);
  const from = new Int32Array(m + 1);
  for (let j = 1; j <= m; j++) {
    const longest = lengths[order[j - 1] as number] as number;
    const widest = Math.min(j, maxRows, Math.floor(maxBatchTokens / longest));
    cost[j] = Number.POSITIVE_INFINITY;
    // Widest call first, so ties go to fewer, larger calls.
    for (let i = j - widest; i < j; i++) {
      const c = (cost[i] as number) + (j - i) * longest + overhead;
      if (c < (cost[j] as number)) {
        cost[j] = c;
        from[j] = i;
      }
    }
  }
  const plan: SubBatch[] = [];
  for (let j = m; j > 0; j = from[j] as number) {
    plan.push({ rows: order.slice(from[j], j), seqLen: lengths[order[j - 1] as number] as number });
  }
  return plan.reverse();
}

/** Padded tokens a plan computes (the cost ORT sees), for metrics and tests. */
export function paddedTokens(plan: readonly SubBatch[]): number {
  let total = 0;
  for (const batch of plan) total += batch.rows.length * batch.seqLen;
  return total;
}

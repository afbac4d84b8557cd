// Every histogram's buckets in one place (TEI's prometheus.rs): geometric for durations, powers of two
// for sizes. Durations in seconds, as Prometheus wants.

/** 0.5 ms … ~33 s, doubling. */
export const DURATION_BUCKETS: readonly number[] = Object.freeze(Array.from({ length: 17 }, (_, i) => 0.0005 * 2 ** i));

/** 1 … 4096, powers of two. */
export const SIZE_BUCKETS: readonly number[] = Object.freeze(Array.from({ length: 13 }, (_, i) => 2 ** i));

/** 8 … 131072 tokens per batch. */
export const TOKEN_BUCKETS: readonly number[] = Object.freeze(Array.from({ length: 15 }, (_, i) => 8 * 2 ** i));

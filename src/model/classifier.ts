// The seam between the pipeline and whatever runs the model (TEI's backend trait): consumers/ and
// src/batching never see ONNX Runtime, only this.

export interface Classification {
  label: string;
  /** Softmax probability per label, in the manifest's label order. */
  scores: Record<string, number>;
  /** Tokens fed to the model (special tokens included, after truncation). */
  tokens: number;
  truncated: boolean;
  /**
   * The model that produced this outcome, when the classifier can change model while it serves
   * (rollout/swappable.ts): a call that started before a swap finishes on the old model, so
   * `Classifier.model` read afterwards may name the wrong one. Absent: it is `Classifier.model`.
   */
  model?: ModelInfo;
}

/** One item that could not be classified; the pipeline dead-letters it with this code. */
export interface ItemFailure {
  error: { code: string; message: string };
}

export type ClassifyOutcome = Classification | ItemFailure;

export function isFailure(outcome: ClassifyOutcome): outcome is ItemFailure {
  return 'error' in outcome;
}

export interface ModelInfo {
  name: string;
  version: string;
  target: string;
  labels: readonly string[];
  maxLength: number;
}

/**
 * Timings of one batch inside the classifier (one pool task), for metrics: the classifier emits them and
 * never imports prom-client. Durations in ms; tokens are real tokens, paddedTokens what the model computed.
 */
export interface BatchTimings {
  /** From classify() to a worker taking the batch. */
  queueMs: number;
  tokenizeMs: number;
  /** Model run time (all session.run calls of the batch). */
  inferenceMs: number;
  rows: number;
  tokens: number;
  paddedTokens: number;
  /** Model calls the batch took (it is cut by length and token budget). */
  runs: number;
}

export interface ClassifierHealth {
  ready: boolean;
  workers: number;
  queued: number;
  busyRatio: number;
}

export interface Classifier {
  readonly model: ModelInfo;
  /**
   * Classifies `texts`, one outcome per text in the same order. Rejects as a whole only when the call
   * cannot be taken (KLS_ERR_POOL_OVERLOADED: back off and retry; KLS_ERR_POOL_CLOSED); a text that
   * fails on its own gets an ItemFailure.
   */
  classify(texts: readonly string[]): Promise<ClassifyOutcome[]>;
  health(): ClassifierHealth;
  /** Subscribes to per-batch timings (optional: test doubles need not); returns the unsubscribe function. */
  onBatch?(listener: (timings: BatchTimings) => void): () => void;
  close(): Promise<void>;
}

// Runs a model the way the inference pool will: token ids padded per batch to the longest text, attention
// mask 1 for real tokens, token type ids from the tokenizer. Used by the parity gate and the benchmark,
// so both measure the model as served rather than some other input layout.
import * as ort from 'onnxruntime-node';
import { CompileError } from '../errors.js';
import type { EncodedText } from '../model/tokenizer.js';
import type { ModelInputs } from './signature.js';

export interface PaddedBatch {
  rows: number;
  cols: number;
  ids: BigInt64Array;
  mask: BigInt64Array;
  types: BigInt64Array;
}

export function padBatch(texts: readonly EncodedText[], padId: number): PaddedBatch {
  const rows = texts.length;
  const cols = Math.max(1, ...texts.map((t) => t.ids.length));
  const ids = new BigInt64Array(rows * cols).fill(BigInt(padId));
  const mask = new BigInt64Array(rows * cols);
  const types = new BigInt64Array(rows * cols);
  texts.forEach((t, r) => {
    t.ids.forEach((id, c) => {
      ids[r * cols + c] = BigInt(id);
      mask[r * cols + c] = 1n;
      types[r * cols + c] = BigInt(t.typeIds[c] ?? 0);
    });
  });
  return { rows, cols, ids, mask, types };
}

export interface RunnerOptions {
  threads: number;
  /** Session graph optimization; the source model runs as ORT would run it by default ('all'). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export class ModelRunner {
  readonly #session: ort.InferenceSession;
  readonly #inputs: ModelInputs;
  readonly #output: string;
  readonly labels: number;

  private constructor(session: ort.InferenceSession, inputs: ModelInputs, output: string, labels: number) {
    this.#session = session;
    this.#inputs = inputs;
    this.#output = output;
    this.labels = labels;
  }

  static async create(model: string | Uint8Array, inputs: ModelInputs, output: string, labels: number, options: RunnerOptions): Promise<ModelRunner> {
    try {
      const sessionOptions: ort.InferenceSession.SessionOptions = {
        intraOpNumThreads: options.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
        logSeverityLevel: 3,
      };
      const session = typeof model === 'string'
        ? await ort.InferenceSession.create(model, sessionOptions)
        : await ort.InferenceSession.create(model, sessionOptions);
      return new ModelRunner(session, inputs, output, labels);
    } catch (err) {
      throw new CompileError(`ONNX Runtime cannot load the ${typeof model === 'string' ? model : 'compiled'} model: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Logits for one padded batch, row-major [rows, labels]. */
  async run(batch: PaddedBatch): Promise<Float32Array> {
    const dims = [batch.rows, batch.cols];
    const feeds: Record<string, ort.Tensor> = { [this.#inputs.inputIds]: new ort.Tensor('int64', batch.ids, dims) };
    if (this.#inputs.attentionMask) feeds[this.#inputs.attentionMask] = new ort.Tensor('int64', batch.mask, dims);
    if (this.#inputs.tokenTypeIds) feeds[this.#inputs.tokenTypeIds] = new ort.Tensor('int64', batch.types, dims);
    const out = (await this.#session.run(feeds, [this.#output]))[this.#output];
    if (!out || out.type !== 'float32') throw new CompileError(`model output ${this.#output} is ${out?.type ?? 'missing'}, expected float32`);
    return out.data as Float32Array;
  }

  /**
   * Logits for every text, row-major [texts, labels], in input order. Texts are sorted by length and
   * batched so that padding stays small (the pool does the same), which also keeps this fast.
   */
  async logits(texts: readonly EncodedText[], padId: number, batchSize = 32, onBatch?: (done: number, total: number) => void): Promise<Float32Array> {
    const order = texts.map((_, i) => i).sort((a, b) => (texts[a] as EncodedText).ids.length - (texts[b] as EncodedText).ids.length);
    const result = new Float32Array(texts.length * this.labels);
    for (let start = 0; start < order.length; start += batchSize) {
      const idx = order.slice(start, start + batchSize);
      const logits = await this.run(padBatch(idx.map((i) => texts[i] as EncodedText), padId));
      idx.forEach((row, r) => result.set(logits.subarray(r * this.labels, (r + 1) * this.labels), row * this.labels));
      onBatch?.(Math.min(start + batchSize, order.length), order.length);
    }
    return result;
  }

  async release(): Promise<void> {
    await this.#session.release();
  }
}

// Inside one worker: the tokenizer, the ONNX Runtime session and the hot path from texts to
// probabilities. Nothing here knows about piscina or the pool; worker.ts adapts it to messages.
import { access } from 'node:fs/promises';
import { endianness, getPriority, platform, setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { CudaUnavailableError, ModelLoadError, ModelSignatureError } from '../src/errors.js';
import { TextTokenizer, type EncodedText } from '../src/model/tokenizer.js';
import { planBatches } from './batch-plan.js';
import { isCudaLoadFailure } from './cuda.js';
import type { ClassifyReply, InitTask, ItemError, ModelSpec, WorkerReady } from './messages.js';
import { idleThreadsNamed, nameCurrentThread } from './sched-idle.js';
import { pinCurrentThread, currentThreadTid } from './thread-affinity.js';

/** One int64 input, allocated once at the token budget and rewritten in place for every call. */
class Int64Input {
  readonly buffer: ArrayBuffer;
  /**
   * Writes go through a 32-bit view of the low halves: every value here (token ids, 0/1 masks, type
   * ids) is non-negative and below 2^31, and the high halves stay 0 from allocation, so nothing is
   * converted to BigInt per token. Needs a little-endian host (all onnxruntime-node platforms are).
   */
  readonly low: Int32Array;

  constructor(maxTokens: number) {
    this.buffer = new ArrayBuffer(maxTokens * 8);
    this.low = new Int32Array(this.buffer);
  }

  tensor(rows: number, seqLen: number): ort.Tensor {
    return new ort.Tensor('int64', new BigInt64Array(this.buffer, 0, rows * seqLen), [rows, seqLen]);
  }
}

export class ModelRunner {
  readonly #session: ort.InferenceSession;
  readonly #tokenizer: TextTokenizer;
  readonly #spec: ModelSpec;
  readonly #labels: number;
  readonly #maxBatchTokens: number;
  readonly #maxRows: number;
  readonly #ids: Int64Input;
  readonly #mask: Int64Input | undefined;
  readonly #types: Int64Input | undefined;

  private constructor(session: ort.InferenceSession, tokenizer: TextTokenizer, spec: ModelSpec, maxBatchTokens: number, maxRows: number) {
    this.#session = session;
    this.#tokenizer = tokenizer;
    this.#spec = spec;
    this.#labels = spec.labels.length;
    this.#maxBatchTokens = maxBatchTokens;
    this.#maxRows = maxRows;
    this.#ids = new Int64Input(maxBatchTokens);
    this.#mask = spec.inputs.attentionMask === undefined ? undefined : new Int64Input(maxBatchTokens);
    this.#types = spec.inputs.tokenTypeIds === undefined ? undefined : new Int64Input(maxBatchTokens);
  }

  /** Pins this thread, loads tokenizer and session, checks the signature and warms up. */
  static async load(task: InitTask): Promise<{ runner: ModelRunner; ready: WorkerReady }> {
    if (endianness() !== 'LE') throw new ModelLoadError('the inference worker needs a little-endian CPU');
    const before = process.memoryUsage().rss;
    const started = performance.now();
    // Niceness and pinning before creating the session: ORT's own threads, created by this one, inherit both.
    // Linux only: there setpriority(0) is this thread; elsewhere it would be the whole process, live workers too.
    if (task.niceness > 0 && platform() === 'linux') setPriority(task.niceness);
    const callerPinned = task.pinning === undefined ? undefined : pinCurrentThread(task.pinning.callerCpus);
    const { model } = task;
    // SCHED_IDLE later finds this worker's threads by name: name it before the session creates its threads.
    // libuv's thread pool is process-wide and started by its first user; started after the naming, its
    // threads would bear the name too and serve the whole process at idle priority. One async file call
    // starts it first (a no-op when the process already did).
    let idleName: string | undefined;
    if (task.schedIdle) {
      await access(model.modelPath).catch(() => undefined);
      idleName = nameCurrentThread();
    }
    const tokenizer = TextTokenizer.fromFile(model.tokenizerPath, model.maxLength);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model.modelPath, task.session);
    } catch (err) {
      const message = (err as Error).message;
      if (task.gpu !== undefined && isCudaLoadFailure(message)) {
        throw new CudaUnavailableError(`GPU ${task.gpu}: ONNX Runtime's CUDA provider failed to load: ${message}`, { cause: err });
      }
      throw new ModelLoadError(`cannot load ${model.modelPath}: ${message}`, { cause: err });
    }
    checkSignature(session, model);
    const runner = new ModelRunner(session, tokenizer, model, task.maxBatchTokens, task.maxRowsPerCall);
    const loadMs = performance.now() - started;
    const warmup = await runner.#warmup();
    // After the warm-up, so a busy machine delays a background model's start no more than niceness does.
    const schedIdle = task.schedIdle ? idleThreadsNamed(idleName) : undefined;
    const mem = process.memoryUsage();
    const ready: WorkerReady = {
      slot: task.slot,
      threadId,
      tid: currentThreadTid(),
      executionProvider: task.gpu === undefined ? 'cpu' : 'cuda',
      intraOpThreads: task.session.intraOpNumThreads ?? 1,
      callerPinned,
      niceness: getPriority(),
      schedIdle,
      loadMs: round(loadMs),
      warmup,
      memory: { rssBytes: mem.rss, rssDeltaBytes: mem.rss - before, heapUsedBytes: mem.heapUsed, externalBytes: mem.external },
    };
    return { runner, ready };
  }

  /** Tokenizes, plans the calls, runs them and returns softmax probabilities per text. */
  async classify(texts: readonly string[]): Promise<ClassifyReply> {
    const started = performance.now();
    const n = texts.length;
    const L = this.#labels;
    const encodings: (EncodedText | undefined)[] = new Array<EncodedText | undefined>(n);
    const lengths: number[] = new Array<number>(n).fill(0);
    const tokens = new Int32Array(n);
    const truncated = new Uint8Array(n);
    const failed: ItemError[] = [];
    for (let i = 0; i < n; i++) {
      try {
        const enc = this.#tokenizer.encode(texts[i] as string);
        if (enc.ids.length === 0) {
          failed.push({ index: i, code: 'KLS_ERR_MISSING_TEXT', message: 'the text has no tokens' });
          continue;
        }
        encodings[i] = enc;
        lengths[i] = enc.ids.length;
        tokens[i] = enc.ids.length;
        truncated[i] = enc.truncated ? 1 : 0;
      } catch (err) {
        failed.push({ index: i, code: 'KLS_ERR_TOKENIZER', message: `tokenization failed: ${(err as Error).message}` });
      }
    }
    const tokenized = performance.now();

    const scores = new Float64Array(n * L);
    let inferenceMs = 0;
    let rows = 0;
    let realTokens = 0;
    let padded = 0;
    const plan = planBatches(lengths, { maxBatchTokens: this.#maxBatchTokens, maxRows: this.#maxRows });
    for (const batch of plan) {
      this.#fill(batch.rows, batch.seqLen, encodings);
      const t0 = performance.now();
      const logits = await this.#run(batch.rows.length, batch.seqLen);
      inferenceMs += performance.now() - t0;
      softmaxInto(logits, batch.rows, L, scores);
      rows += batch.rows.length;
      padded += batch.rows.length * batch.seqLen;
      for (const i of batch.rows) realTokens += lengths[i] as number;
    }
    const ended = performance.now();
    const timings = {
      tokenizeMs: tokenized - started,
      inferenceMs,
      rows,
      tokens: realTokens,
      paddedTokens: padded,
      runs: plan.length,
      workerMs: ended - started,
      startedAt: performance.timeOrigin + started,
      endedAt: performance.timeOrigin + ended,
    };
    return { scores, tokens, truncated, failed, timings };
  }

  async release(): Promise<void> {
    await this.#session.release();
  }

  /** Writes one call's rows into the input buffers, padding each to seqLen. */
  #fill(order: readonly number[], seqLen: number, encodings: readonly (EncodedText | undefined)[]): void {
    const ids = this.#ids.low;
    const mask = this.#mask?.low;
    const types = this.#types?.low;
    const pad = this.#tokenizer.padId;
    let at = 0; // position in tokens; the 32-bit index of its low half is 2 * at
    for (const i of order) {
      const enc = encodings[i] as EncodedText;
      const tokenIds = enc.ids;
      const typeIds = enc.typeIds;
      const len = tokenIds.length;
      const end = at + seqLen;
      for (let t = 0; t < len; t++, at++) {
        ids[2 * at] = tokenIds[t] as number;
        if (mask !== undefined) mask[2 * at] = 1;
        if (types !== undefined) types[2 * at] = typeIds[t] ?? 0;
      }
      for (; at < end; at++) {
        ids[2 * at] = pad;
        if (mask !== undefined) mask[2 * at] = 0;
        if (types !== undefined) types[2 * at] = 0;
      }
    }
  }

  /** One session.run over the first rows x seqLen tokens of the buffers; returns logits [rows, labels]. */
  async #run(rows: number, seqLen: number): Promise<Float32Array> {
    const { inputs, output } = this.#spec;
    const feeds: Record<string, ort.Tensor> = { [inputs.inputIds]: this.#ids.tensor(rows, seqLen) };
    if (inputs.attentionMask !== undefined && this.#mask) feeds[inputs.attentionMask] = this.#mask.tensor(rows, seqLen);
    if (inputs.tokenTypeIds !== undefined && this.#types) feeds[inputs.tokenTypeIds] = this.#types.tensor(rows, seqLen);
    const result = await this.#session.run(feeds, [output]);
    const logits = result[output];
    if (logits === undefined || logits.type !== 'float32' || logits.dims.length !== 2 || logits.dims[0] !== rows || logits.dims[1] !== this.#labels) {
      throw new ModelSignatureError(`output ${output} is ${logits ? `${logits.type} [${logits.dims.join(', ')}]` : 'missing'}, expected float32 [${rows}, ${this.#labels}]`);
    }
    return logits.data as Float32Array;
  }

  /** A call at the production token limit (TEI's warmup), then a small one for the common case. */
  async #warmup(): Promise<WorkerReady['warmup']> {
    const seqLen = Math.min(this.#spec.maxLength, this.#maxBatchTokens);
    const rows = Math.max(1, Math.min(this.#maxRows, Math.floor(this.#maxBatchTokens / seqLen)));
    const sample = this.#tokenizer.encode('warming up the inference worker with a realistic sentence').ids;
    const ids = this.#ids.low;
    for (let at = 0; at < rows * seqLen; at++) {
      ids[2 * at] = sample[at % sample.length] as number;
      if (this.#mask) this.#mask.low[2 * at] = 1;
    }
    const t0 = performance.now();
    await this.#run(rows, seqLen);
    const ms = performance.now() - t0;
    await this.#run(1, Math.min(16, seqLen));
    return { rows, seqLen, ms: round(ms) };
  }
}

function checkSignature(session: ort.InferenceSession, model: ModelSpec): void {
  const wanted = [model.inputs.inputIds, model.inputs.attentionMask, model.inputs.tokenTypeIds].filter((x): x is string => x !== undefined);
  const missing = wanted.filter((name) => !session.inputNames.includes(name));
  const unfed = session.inputNames.filter((name) => !wanted.includes(name));
  if (missing.length > 0 || unfed.length > 0 || !session.outputNames.includes(model.output)) {
    throw new ModelSignatureError(
      `model inputs [${session.inputNames.join(', ')}] / outputs [${session.outputNames.join(', ')}] do not match the manifest ` +
        `(inputs [${wanted.join(', ')}], output ${model.output})`,
    );
  }
}

/** Softmax of each logits row, written at that row's input position (numerically stable: max subtracted). */
function softmaxInto(logits: Float32Array, order: readonly number[], labels: number, scores: Float64Array): void {
  for (let r = 0; r < order.length; r++) {
    const from = r * labels;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < labels; j++) max = Math.max(max, logits[from + j] as number);
    let sum = 0;
    const to = (order[r] as number) * labels;
    for (let j = 0; j < labels; j++) {
      const e = Math.exp((logits[from + j] as number) - max);
      scores[to + j] = e;
      sum += e;
    }
    for (let j = 0; j < labels; j++) scores[to + j] = (scores[to + j] as number) / sum;
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

// Is this ONNX file a text classifier klassify can serve? Token ids in (plus attention mask, plus token
// type ids when present), one float32 logits output of shape [batch, labels] out. Checked three ways: the
// protobuf (is it ONNX at all), the session's declared inputs/outputs, and one real run on a tiny batch
// (dynamic output shapes only reveal the label count when run).
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { ModelLoadError, ModelSignatureError } from '../errors.js';
import { decodeModel, defaultOpset, dimsOf, graphOf, initializerMap, type ModelProto } from './onnx-graph.js';

export interface ModelInputs {
  inputIds: string;
  attentionMask?: string;
  tokenTypeIds?: string;
}

export interface ModelSignature {
  inputs: ModelInputs;
  output: string;
  opset: number;
  /** Rows of the position embedding table, when one is recognisable: the longest input the model can take. */
  maxPositions?: number;
  /** Rows of the embedding table the token ids index, when recognisable. */
  vocabRows?: number;
}

export interface LoadedSource {
  bytes: Uint8Array;
  proto: ModelProto;
}

export function readSourceModel(path: string): LoadedSource {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ModelLoadError(`cannot read model ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return { bytes, proto: decodeModel(bytes, path) };
}

const MASK = /attention_?mask|(^|_)mask$/i;
const TYPES = /token_?type|segment/i;
const IDS = /input_?ids|^ids$|token_?ids|^input$/i;

/** Maps the session's inputs to roles; anything unrecognised is a signature error. */
export function classifyInputs(metadata: readonly ort.InferenceSession.ValueMetadata[], where: string): ModelInputs {
  let inputIds: string | undefined;
  let attentionMask: string | undefined;
  let tokenTypeIds: string | undefined;
  const unknown: string[] = [];
  for (const meta of metadata) {
    const name = meta.name;
    if (!meta.isTensor || meta.type !== 'int64' || meta.shape.length !== 2) {
      const got = meta.isTensor ? `${meta.type} of rank ${meta.shape.length}` : 'not a tensor';
      throw new ModelSignatureError(`${where}: input "${name}" must be an int64 [batch, sequence] tensor (got ${got}); klassify feeds token ids, attention mask and token type ids as int64`);
    }
    if (MASK.test(name) && attentionMask === undefined) attentionMask = name;
    else if (TYPES.test(name) && tokenTypeIds === undefined) tokenTypeIds = name;
    else if (IDS.test(name) && inputIds === undefined) inputIds = name;
    else unknown.push(name);
  }
  // A single unnamed-looking input is the ids.
  if (inputIds === undefined && unknown.length === 1) inputIds = unknown.shift();
  if (unknown.length > 0) {
    throw new ModelSignatureError(`${where}: input(s) ${unknown.map((u) => `"${u}"`).join(', ')} are neither token ids, attention mask nor token type ids (expected input_ids, attention_mask, token_type_ids)`);
  }
  if (inputIds === undefined) throw new ModelSignatureError(`${where}: no token ids input (expected one named input_ids)`);
  const inputs: ModelInputs = { inputIds };
  if (attentionMask !== undefined) inputs.attentionMask = attentionMask;
  if (tokenTypeIds !== undefined) inputs.tokenTypeIds = tokenTypeIds;
  return inputs;
}

/** The logits output: the one named logits, else the only output. */
export function pickOutput(metadata: readonly ort.InferenceSession.ValueMetadata[], labels: number, where: string): string {
  const chosen = metadata.find((m) => /logits/i.test(m.name)) ?? (metadata.length === 1 ? metadata[0] : undefined);
  if (!chosen) throw new ModelSignatureError(`${where}: ${metadata.length} outputs and none named logits: which one holds the class scores?`);
  if (!chosen.isTensor || chosen.type !== 'float32') {
    throw new ModelSignatureError(`${where}: output "${chosen.name}" must be float32 logits (got ${chosen.isTensor ? chosen.type : 'a non-tensor'})`);
  }
  if (chosen.shape.length > 0 && chosen.shape.length !== 2) {
    throw new ModelSignatureError(`${where}: output "${chosen.name}" has rank ${chosen.shape.length}; a classifier returns [batch, labels]`);
  }
  const last = chosen.shape[1];
  if (typeof last === 'number' && last !== labels) {
    throw new ModelSignatureError(`${where}: the model returns ${last} logits per text but ${labels} labels were given`);
  }
  return chosen.name;
}

/** Runs the model once on `probeIds` (two rows) and checks the logits' shape and values. */
export async function probeRun(session: ort.InferenceSession, sig: ModelSignature, probeIds: number[], labels: number, where: string): Promise<void> {
  const seq = probeIds.length;
  const ids = BigInt64Array.from([...probeIds, ...probeIds].map((v) => BigInt(v)));
  const feeds: Record<string, ort.Tensor> = { [sig.inputs.inputIds]: new ort.Tensor('int64', ids, [2, seq]) };
  if (sig.inputs.attentionMask) feeds[sig.inputs.attentionMask] = new ort.Tensor('int64', new BigInt64Array(2 * seq).fill(1n), [2, seq]);
  if (sig.inputs.tokenTypeIds) feeds[sig.inputs.tokenTypeIds] = new ort.Tensor('int64', new BigInt64Array(2 * seq), [2, seq]);
  let out: ort.Tensor | undefined;
  try {
    out = (await session.run(feeds, [sig.output]))[sig.output];
  } catch (err) {
    throw new ModelSignatureError(`${where}: running it on a two-text batch failed: ${(err as Error).message}`, { cause: err });
  }
  const dims = out?.dims ?? [];
  if (dims.length !== 2 || dims[0] !== 2) {
    throw new ModelSignatureError(`${where}: for a batch of 2 texts "${sig.output}" has shape [${dims.join(', ')}], expected [2, ${labels}]`);
  }
  if (dims[1] !== labels) throw new ModelSignatureError(`${where}: the model returns ${dims[1]} logits per text but ${labels} labels were given`);
  if (!Array.from(out?.data as Float32Array).every(Number.isFinite)) throw new ModelSignatureError(`${where}: the model returns non-finite logits`);
}

/** Embedding-table sizes, read from the graph: how many token ids and positions the model knows. */
export function embeddingSizes(proto: ModelProto, inputIds: string): { maxPositions?: number; vocabRows?: number } {
  const graph = graphOf(proto);
  const inits = initializerMap(graph);
  const result: { maxPositions?: number; vocabRows?: number } = {};
  const gathered: { name: string; rows: number; byIds: boolean }[] = [];
  for (const node of graph.node ?? []) {
    if (node.opType !== 'Gather' || (node.domain ?? '') !== '') continue;
    const table = inits.get(node.input?.[0] ?? '');
    if (!table || dimsOf(table).length !== 2) continue;
    gathered.push({ name: table.name ?? '', rows: dimsOf(table)[0] as number, byIds: node.input?.[1] === inputIds });
  }
  const vocab = gathered.find((g) => g.byIds);
  if (vocab) result.vocabRows = vocab.rows;
  // BERT/RoBERTa/DistilBERT exports name it; token-type tables (2 rows) are not position tables.
  const named = gathered.find((g) => /position_?embed|pos_?emb|\bwpe\b/i.test(g.name) && g.rows > 2);
  const others = gathered.filter((g) => !g.byIds && g.rows > 2 && g.name !== vocab?.name);
  const positions = named ?? (others.length === 1 ? others[0] : undefined);
  if (positions) result.maxPositions = positions.rows;
  return result;
}

/** Loads the source model, checks it is a classifier for `labels` labels, and says how to feed it. */
export async function inspectModel(source: LoadedSource, labels: number, probeIds: number[], where: string): Promise<ModelSignature> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(source.bytes, { logSeverityLevel: 3 });
  } catch (err) {
    throw new ModelLoadError(`ONNX Runtime cannot load ${where}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const inputs = classifyInputs(session.inputMetadata, where);
    const output = pickOutput(session.outputMetadata, labels, where);
    const sig: ModelSignature = { inputs, output, opset: defaultOpset(source.proto), ...embeddingSizes(source.proto, inputs.inputIds) };
    // Keep the probe inside the embedding table: a tokenizer that does not fit the model is reported by
    // the caller as a tokenizer error, not as a failed run here.
    const rows = sig.vocabRows;
    await probeRun(session, sig, rows === undefined ? probeIds : probeIds.map((id) => Math.min(id, rows - 1)), labels, where);
    return sig;
  } finally {
    await session.release();
  }
}

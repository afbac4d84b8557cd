// Loads the user's tokenizer.json, checks it works, and prepares the copy shipped with the compiled model.
//
// Exported tokenizer.json files often carry a fixed padding ("Fixed": 128) and truncation setting (the
// MiniLM package does). klassify pads each batch to its own longest text and truncates to the manifest's
// maxLength itself; a tokenizer that pads on its own would hand the model 128 "real" tokens for every text
// (the attention mask is built from the ids' length). So the shipped copy has both removed.
import { readFileSync } from 'node:fs';
import { TokenizerError } from '../errors.js';
import { TextTokenizer } from '../model/tokenizer.js';

export interface PreparedTokenizer {
  /** The tokenizer.json written next to the compiled model (padding and truncation removed). */
  text: string;
  tokenizer: TextTokenizer;
  /** Largest token id the tokenizer can produce (vocabulary and added tokens). */
  maxTokenId: number;
  notes: string[];
}

export function prepareTokenizer(path: string, maxLength: number): PreparedTokenizer {
  let json: Record<string, unknown>;
  try {
    const data: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error('not a JSON object');
    json = data as Record<string, unknown>;
  } catch (err) {
    throw new TokenizerError(`cannot read tokenizer ${path}: ${(err as Error).message}`, { cause: err });
  }
  const notes: string[] = [];
  if (json.padding !== null && json.padding !== undefined) {
    notes.push(`tokenizer.json: removed its own padding (${JSON.stringify((json.padding as { strategy?: unknown }).strategy ?? json.padding)}); klassify pads each batch to its longest text`);
    json.padding = null;
  }
  if (json.truncation !== null && json.truncation !== undefined) {
    notes.push(`tokenizer.json: removed its own truncation (max_length ${String((json.truncation as { max_length?: unknown }).max_length ?? '?')}); klassify truncates to maxLength ${maxLength}`);
    json.truncation = null;
  }
  const tokenizer = new TextTokenizer(json, maxLength); // throws TokenizerError for a malformed file
  let ids: number[];
  try {
    ids = tokenizer.encode('Hello world, this is a tokenizer check.').ids;
  } catch (err) {
    throw new TokenizerError(`tokenizer ${path} fails to encode a plain sentence: ${(err as Error).message}`, { cause: err });
  }
  if (ids.length < 2) throw new TokenizerError(`tokenizer ${path} encodes a plain sentence to ${ids.length} token(s): is it a text tokenizer?`);
  return { text: `${JSON.stringify(json)}\n`, tokenizer, maxTokenId: maxTokenIdOf(json), notes };
}

function maxTokenIdOf(json: Record<string, unknown>): number {
  let max = -1;
  const model = json.model as { vocab?: unknown } | undefined;
  const vocab = model?.vocab;
  if (Array.isArray(vocab)) max = vocab.length - 1; // Unigram: [token, score][] indexed by id
  else if (vocab !== null && typeof vocab === 'object') {
    for (const id of Object.values(vocab as Record<string, unknown>)) if (typeof id === 'number' && id > max) max = id;
  }
  for (const t of (json.added_tokens as { id?: unknown }[] | undefined) ?? []) if (typeof t.id === 'number' && t.id > max) max = t.id;
  return max;
}

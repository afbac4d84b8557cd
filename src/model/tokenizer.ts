// Text → token ids with a Hugging Face tokenizer.json, truncated to the model's max length.
//
// Library choice (measured on 3,550 tweets, MiniLM WordPiece, Node 20, this 2-core machine): the native
// `tokenizers` binding and the pure-JS `@huggingface/tokenizers` produced identical ids for every text and
// cost about the same CPU per text (108 µs vs 120 µs). The pure-JS one is synchronous (no libuv threadpool
// hop inside a worker that is about to run a blocking session.run anyway), has no native addon to load in
// worker threads, and installs everywhere, so it wins.
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { TokenizerError } from '../errors.js';

export interface EncodedText {
  ids: number[];
  /** Token type ids (all 0 for single-sentence input). */
  typeIds: number[];
  /** True when the text had more tokens than maxLength and was cut. */
  truncated: boolean;
}

/** Characters a token stands for at most, in practice (English WordPiece: ~4; URLs and runs longer). */
const PREFIX_CHARS_PER_TOKEN = 16;
const WHITESPACE = /\s/g;

export class TextTokenizer {
  readonly maxLength: number;
  readonly padId: number;
  readonly #tokenizer: Tokenizer;

  constructor(tokenizerJson: unknown, maxLength: number) {
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new TokenizerError(`maxLength must be an integer >= 2, got ${maxLength}`);
    if (tokenizerJson === null || typeof tokenizerJson !== 'object' || !('model' in tokenizerJson)) {
      throw new TokenizerError('not a Hugging Face tokenizer.json (no "model" section)');
    }
    try {
      this.#tokenizer = new Tokenizer(tokenizerJson, {});
    } catch (err) {
      throw new TokenizerError(`tokenizer.json could not be loaded: ${(err as Error).message}`, { cause: err });
    }
    this.maxLength = maxLength;
    const padding = (tokenizerJson as { padding?: { pad_id?: number } | null }).padding;
    this.padId = padding?.pad_id ?? this.#tokenizer.token_to_id('[PAD]') ?? this.#tokenizer.token_to_id('<pad>') ?? 0;
  }

  static fromFile(path: string, maxLength: number): TextTokenizer {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new TokenizerError(`cannot read tokenizer ${path}: ${(err as Error).message}`, { cause: err });
    }
    return new TextTokenizer(json, maxLength);
  }

  encode(text: string): EncodedText {
    // A long text (a 60 KB post) costs its whole length in normalization and WordPiece, for the
    // maxLength tokens that are kept. Tokenization is prefix-stable at whitespace (the normalizer works
    // per character, the pre-tokenizer splits on whitespace first), so a prefix cut at a whitespace that
    // already has more than maxLength tokens gives the same kept ids; otherwise the whole text is encoded.
    const limit = this.maxLength * PREFIX_CHARS_PER_TOKEN;
    if (text.length > limit) {
      WHITESPACE.lastIndex = limit;
      const cut = WHITESPACE.exec(text)?.index;
      if (cut !== undefined) {
        const prefix = this.#encode(text.slice(0, cut));
        if (prefix.ids.length > this.maxLength) return prefix;
      }
    }
    return this.#encode(text);
  }

  #encode(text: string): EncodedText {
    const encoding = this.#tokenizer.encode(text, { return_token_type_ids: true });
    let ids = encoding.ids;
    let typeIds = encoding.token_type_ids;
    const truncated = ids.length > this.maxLength;
    if (truncated) {
      // Keep the leading tokens and the closing special token ([SEP] / </s>) the post-processor added.
      const last = ids[ids.length - 1] as number;
      ids = [...ids.slice(0, this.maxLength - 1), last];
      typeIds = typeIds.slice(0, this.maxLength);
    }
    return { ids, typeIds, truncated };
  }
}

// Where `klassify produce` reads events: JSONL, CSV or text files (or stdin), or the built-in generator.
import { createReadStream } from 'node:fs';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { ConfigError } from '../errors.js';
import { PostGenerator, type Spike } from './generator.js';

export type SourceFormat = 'auto' | 'jsonl' | 'csv' | 'text';

export interface ProduceEvent {
  key: string | null;
  /** A string is sent as is (JSONL lines keep their exact bytes, even invalid ones); objects as JSON. */
  value: string | { id?: string; text: string; ts?: number; meta?: Record<string, string> };
}

export interface SourceOptions {
  /** File path, '-' for stdin; undefined with generate. */
  file?: string | undefined;
  format: SourceFormat;
  generate: boolean;
  /** --spike: an injected burst for one brand (generator only). */
  spike?: Spike | undefined;
  seed: number;
  keyField?: string | undefined;
  textField: string;
  idField: string;
}

function open(file: string): Readable {
  return file === '-' ? process.stdin : createReadStream(file);
}

function formatOf(file: string, format: SourceFormat): Exclude<SourceFormat, 'auto'> {
  if (format !== 'auto') return format;
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  return file === '-' ? 'jsonl' : 'text';
}

function keyOf(obj: unknown, field: string | undefined): string | null {
  if (field === undefined || obj === null || typeof obj !== 'object') return null;
  const v = (obj as Record<string, unknown>)[field];
  return v === undefined || v === null ? null : String(v);
}

export async function* readEvents(o: SourceOptions): AsyncGenerator<ProduceEvent> {
  if (o.generate) {
    const gen = new PostGenerator(o.seed, 'gen', { spike: o.spike });
    for (;;) {
      const p = gen.next();
      yield { key: o.keyField === 'id' ? p.id : p.brand, value: { id: p.id, text: p.text, ts: Date.now(), meta: { brand: p.brand } } };
    }
  }
  if (o.file === undefined) throw new ConfigError('give a FILE (or - for stdin), or --generate');
  const format = formatOf(o.file, o.format);
  if (format === 'csv') {
    let n = 0;
    for await (const row of open(o.file).pipe(parse({ columns: true, skip_empty_lines: true, relax_column_count: true, bom: true }))) {
      const r = row as Record<string, string>;
      const text = r[o.textField];
      n++;
      if (text === undefined) throw new ConfigError(`CSV row ${n} has no "${o.textField}" column (--text-field)`);
      const id = r[o.idField];
      yield { key: keyOf(r, o.keyField), value: { ...(id ? { id } : {}), text } };
    }
    return;
  }
  const lines = createInterface({ input: open(o.file), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    if (line.trim() === '') continue;
    n++;
    if (format === 'jsonl') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = undefined;
      }
      yield { key: keyOf(parsed, o.keyField), value: line };
    } else {
      yield { key: null, value: { id: `line-${n}`, text: line } };
    }
  }
}

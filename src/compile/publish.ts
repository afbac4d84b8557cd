// Writes compiled-models/<name>/<target>/ all at once: the files go into a hidden sibling folder first,
// which is then renamed into place. A reader (the pool loading a model) sees the old folder or the new
// one, never half of one, and a compile that fails before this step leaves nothing behind at all.
import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { CompileError } from '../errors.js';

export interface OutputFile {
  name: string;
  data: Uint8Array | string;
}

/** Replaces `dir` with a folder holding exactly `files`. */
export function publishFolder(dir: string, files: readonly OutputFile[]): void {
  const parent = dirname(dir);
  let created: string | undefined;
  const staging = join(parent, `.${randomBytes(4).toString('hex')}.staging`);
  const retired = join(parent, `.${randomBytes(4).toString('hex')}.retired`);
  try {
    created = mkdirSync(parent, { recursive: true });
    mkdirSync(staging);
    for (const file of files) writeFileSync(join(staging, file.name), file.data);
    if (existsSync(dir)) {
      // rename() cannot replace a non-empty folder: move the old one aside, then drop it.
      renameSync(dir, retired);
      renameSync(staging, dir);
      rmSync(retired, { recursive: true, force: true });
    } else {
      renameSync(staging, dir);
    }
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    if (existsSync(retired) && !existsSync(dir)) renameSync(retired, dir);
    if (created !== undefined && !existsSync(dir)) rmSync(created, { recursive: true, force: true });
    throw new CompileError(`cannot write ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

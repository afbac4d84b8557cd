// Where things live: the installed package (for shipped models and schemas) and the user's cache.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(start: string): string {
  // Source runs from src/ under vitest and from dist/src/ once built: walk up to our package.json.
  let dir = start;
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string };
      if (pkg.name === 'klassify') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`klassify package.json not found above ${start}`);
    dir = parent;
  }
}

export const packageRoot: string = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

export const packageVersion: string = (
  JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }
).version;

/** Where klassify keeps downloads and local service state (KLASSIFY_HOME, else the XDG cache). */
export function defaultHome(): string {
  // Read here rather than through config: the default of the `home` knob itself needs it.
  const env = process.env;
  return env.KLASSIFY_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'klassify');
}

// schemas/model-manifest.schema.json is generated from the zod schema (npm run docs); it must not drift.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifestJsonSchema } from '../../src/model/manifest.js';
import { packageRoot } from '../../src/paths.js';

describe('model manifest JSON Schema', () => {
  it('the committed schemas/model-manifest.schema.json equals the one generated from src/model/manifest.ts', () => {
    const committed = readFileSync(join(packageRoot, 'schemas', 'model-manifest.schema.json'), 'utf8');
    expect(committed, 'regenerate with: npm run docs').toBe(`${JSON.stringify(manifestJsonSchema(), null, 2)}\n`);
  });
});

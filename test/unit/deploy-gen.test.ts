// The chart's values/schema/env template and docker-compose.yml's klassify environment are generated from the
// knob table (scripts/deploy-gen.mjs): this fails when a committed file differs from what the generator writes
// now, e.g. after a knob was added or its default changed. Fix: npm run build && node scripts/deploy-gen.mjs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { knobs } from '../../src/config-knobs.js';
import { generatedFiles, valuesBlock } from '../../src/deploy/generate.js';
import { CHART_DEFAULTS, COMPOSE_SETTINGS, FILE_KNOBS, SECRET_ONLY_KNOBS } from '../../src/deploy/knob-env.js';
import { packageRoot } from '../../src/paths.js';

const read = (p: string): string => readFileSync(join(packageRoot, p), 'utf8');

describe('deployment files generated from the knob table', () => {
  it.each(generatedFiles(read).map((f) => [f.path, f.content]))('%s is up to date (node scripts/deploy-gen.mjs)', (path, content) => {
    expect(read(path)).toBe(content);
  });

  it('values.yaml lists every knob under config (credentials under secretRefs), by knob key', () => {
    const block = valuesBlock();
    for (const k of knobs) {
      const name = k.key.split('.').pop() as string;
      const indent = k.key.includes('.') ? '    ' : '  ';
      expect(block).toMatch(new RegExp(`^${indent}${name}: `, 'm'));
      expect(block).toContain(`(${k.env})`);
    }
    const config = block.slice(0, block.indexOf('secretRefs:'));
    for (const key of SECRET_ONLY_KNOBS) expect(config).not.toMatch(new RegExp(`^ {4}${key.split('.')[1] as string}: `, 'm'));
  });

  it('names only real knobs', () => {
    for (const key of [...SECRET_ONLY_KNOBS, ...Object.keys(FILE_KNOBS), ...Object.keys(CHART_DEFAULTS), ...Object.keys(COMPOSE_SETTINGS)]) {
      expect(knobs.map((k) => k.key)).toContain(key);
    }
  });

  it('the check catches drift: a changed knob default changes the generated files', () => {
    const before = generatedFiles(read);
    const knob = knobs.find((k) => k.key === 'batch.maxSize');
    if (knob === undefined) throw new Error('batch.maxSize knob missing');
    const original = knob.default;
    (knob as { default: () => unknown }).default = () => 65;
    try {
      const after = generatedFiles(read);
      expect(after.find((f) => f.path.endsWith('values.yaml'))?.content).not.toBe(before.find((f) => f.path.endsWith('values.yaml'))?.content);
    } finally {
      (knob as { default: () => unknown }).default = original;
    }
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';
import { packageRoot } from '../../src/paths.js';

const classes = Object.entries(errors).filter(
  ([, v]) => typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof errors.KlassifyError,
) as [string, new (m: string, o?: errors.KlassifyErrorOptions) => errors.KlassifyError][];

describe('error catalogue', () => {
  it('every error class has a unique stable code, listed in errorCodes', () => {
    const codes = classes.map(([, Cls]) => new Cls('x').code);
    expect(new Set(codes).size).toBe(codes.length);
    expect([...codes].sort()).toEqual([...errors.errorCodes].sort());
  });

  it('each class names itself, keeps the cause and says whether a retry can help', () => {
    const cause = new Error('root');
    for (const [name, Cls] of classes) {
      const err = new Cls('boom', { cause });
      expect(err.name).toBe(name);
      expect(err.message).toBe('boom');
      expect(err.cause).toBe(cause);
      expect(typeof err.retriable).toBe('boolean');
      expect(errors.codeOf(err)).toBe(err.code);
    }
    expect(new errors.PoolOverloadedError('full').retriable).toBe(true);
    expect(new errors.InvalidJsonError('bad').retriable).toBe(false);
    expect(errors.codeOf(new TypeError('x'))).toBe('KLS_ERR_INTERNAL');
  });

  it('README documents every code', () => {
    const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
    for (const code of errors.errorCodes) expect(readme, code).toContain(code);
  });
});

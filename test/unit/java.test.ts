import { describe, expect, it } from 'vitest';
import { JavaMissingError } from '../../src/errors.js';
import { findJava, parseJavaMajor } from '../../src/services/java.js';

describe('java discovery', () => {
  it('parses java -version output of old and new JDKs', () => {
    expect(parseJavaMajor('openjdk version "17.0.15" 2025-04-15')).toBe(17);
    expect(parseJavaMajor('java version "1.8.0_392"')).toBe(8);
    expect(parseJavaMajor('openjdk version "25" 2025-09-16')).toBe(25);
    expect(parseJavaMajor('garbage')).toBeUndefined();
  });

  it('a Java too old for the job is a one-line, actionable error', async () => {
    const err = await findJava(99, 'Something').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JavaMissingError);
    const message = (err as Error).message;
    expect(message).toMatch(/^Something needs Java 99 or newer, none found/);
    expect(message).toContain('JAVA_HOME');
    expect(message).not.toContain('\n');
  });
});

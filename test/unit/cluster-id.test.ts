import { describe, expect, it } from 'vitest';
import { newClusterId } from '../../src/services/kafka.js';

describe('KRaft cluster id', () => {
  it('is 16 bytes in base64url without padding', () => {
    const id = newClusterId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(id, 'base64url')).toHaveLength(16);
  });

  it('never starts with a dash, which the storage tool would read as an option', () => {
    // 0xf8 as the first byte encodes to '-' in base64url: the first draw must be refused.
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x11)];
    expect(draws[0]!.toString('base64url').startsWith('-')).toBe(true);
    let calls = 0;
    const id = newClusterId(() => draws[calls++]!);
    expect(calls).toBe(2);
    expect(id).toBe(draws[1]!.toString('base64url'));
  });
});

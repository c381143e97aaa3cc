import { describe, expect, it } from 'vitest';
import { newRequestId } from './request-id.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newRequestId', () => {
  it('makes version-4 UUIDs, all different, across many batches', () => {
    const ids = Array.from({ length: 10_000 }, newRequestId);
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('spreads its random digits evenly (no digit fixed but the version and variant)', () => {
    // Digit 0 (of the first group) over 4096 ids: each of the 16 values about 256 times.
    const counts = new Map<string, number>();
    for (let i = 0; i < 4096; i++) {
      const digit = newRequestId()[0]!;
      counts.set(digit, (counts.get(digit) ?? 0) + 1);
    }
    expect(counts.size).toBe(16);
    for (const n of counts.values()) expect(n).toBeGreaterThan(150); // 256 expected; below 150 is ~7 standard deviations away
  });
});

import { describe, expect, it } from 'vitest';
import { parseDuration, parseSize } from './units.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500], ['2s', 2000], ['1.5s', 1500], ['3m', 180_000], ['1h', 3_600_000], [' 10ms ', 10],
  ])('%s → %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '10', '-1s', '1 d', 's', '1sec'])('rejects %j with a hint', (text) => {
    expect(parseDuration(text)).toMatch(/not a duration.*e\.g\./);
  });
});

describe('parseSize', () => {
  it.each([
    ['64MiB', 64 * 1024 ** 2], ['1KiB', 1024], ['10KB', 10_000], ['512B', 512], ['1.5GiB', 1.5 * 1024 ** 3],
  ])('%s → %d bytes', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each(['64', 'MiB', '-1KiB', '1TiB'])('rejects %j', (text) => expect(parseSize(text)).toMatch(/not a size/));
});

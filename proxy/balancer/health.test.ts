import { describe, expect, it } from 'vitest';
import { autoCap, autoCapOf } from './health.js';

describe('max_inflight: auto from /readyz', () => {
  it.each([
    ['{"slots":1,"queueSize":4}', 2],
    ['{"slots":4,"queueSize":0}', 4],
    ['{"slots":2}', 2],
    ['{"status":"ready"}', undefined],
    ['{"slots":0}', undefined],
    ['{"slots":1.5}', undefined],
    ['not json', undefined],
  ])('%s → %s', (body, cap) => expect(autoCapOf(body)).toBe(cap));

  it('adds one request per server only when the server can queue it', () => {
    expect(autoCap(1, 4)).toBe(2);
    expect(autoCap(3, 0)).toBe(3);
  });
});

import { describe, expect, it } from 'vitest';
import { autoCap, readyzReport } from './health.js';

describe('max_inflight: auto from /readyz', () => {
  it.each([
    ['{"slots":1,"queueSize":4}', 2],
    ['{"slots":1,"queueSize":6}', 3],
    ['{"slots":4,"queueSize":0}', 4],
    ['{"slots":2}', 2],
    ['{"status":"ready"}', undefined],
    ['{"slots":0}', undefined],
    ['{"slots":1.5}', undefined],
    ['not json', undefined],
  ])('%s → %s', (body, cap) => expect(readyzReport(body)?.cap).toBe(cap));

  it('adds one request per server only when the server can queue it', () => {
    expect(autoCap(3, 0)).toBe(3);
    expect(autoCap(1, 1)).toBe(2);
  });

  it('adds a second only where two proxies\' caps (a restart\'s overlap) still fit in the slots and queue', () => {
    expect(autoCap(1, 4)).toBe(2); // 2 × 3 > 5
    expect(autoCap(1, 5)).toBe(3); // 2 × 3 = 6
    expect(autoCap(1, 6)).toBe(3);
    expect(autoCap(2, 6)).toBe(4); // 2 × 4 = 8
    expect(autoCap(1, 1000)).toBe(3); // never more than two queued per proxy
    for (const [slots, queue] of [[1, 5], [1, 6], [2, 6], [4, 10], [3, 20]] as const) {
      expect(2 * autoCap(slots, queue)).toBeLessThanOrEqual(slots + queue);
    }
  });
});

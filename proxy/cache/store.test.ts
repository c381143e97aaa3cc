/** What the store takes and keeps, by size: max_object_bytes measures the response, max_bytes everything held. */
import { describe, expect, it } from 'vitest';
import { ResponseStore, TEXT_BODY_MAX_BYTES } from './store.js';
import { makeVariant } from './variant.js';

const T0 = Date.parse('Tue, 01 Dec 2026 09:00:00 GMT');
const variantOf = (body: Buffer) => makeVariant({}, 200, { 'cache-control': 'max-age=60' }, body, T0, T0);

describe('ResponseStore sizes', () => {
  it('keeps a small body as text too, and counts it against max_bytes but not max_object_bytes', () => {
    const body = Buffer.alloc(TEXT_BODY_MAX_BYTES, 0xe9); // not UTF-8 on its own: latin1 text keeps the bytes
    const v = variantOf(body);
    expect(Buffer.from(v.text!, 'latin1').equals(body)).toBe(true);
    // A max_object_bytes just above the response itself: the text copy must not push it out.
    const justFits = new ResponseStore({ maxBytes: 1 << 20, maxObjectBytes: v.size - body.length });
    expect(justFits.put('k', 'h', '/', v)).toBe(true);
    expect(justFits.bytes).toBe(v.size);
    expect(new ResponseStore({ maxBytes: 1 << 20, maxObjectBytes: v.size - body.length - 1 }).put('k', 'h', '/', v)).toBe(false);
  });

  it('keeps no text for a larger body', () => {
    const v = variantOf(Buffer.alloc(TEXT_BODY_MAX_BYTES + 1));
    expect(v.text).toBeUndefined();
    expect(new ResponseStore({ maxBytes: 1 << 20, maxObjectBytes: v.size }).put('k', 'h', '/', v)).toBe(true);
  });
});

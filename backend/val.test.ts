import { describe, expect, it } from 'vitest';
import { parseValBody, parseValParam } from './val.js';

describe('parseValParam', () => {
  it.each([['0', 0], ['1000', 1000], ['100000', 100000], [' 42 ', 42], ['007', 7]])('accepts %j', (text, val) => {
    expect(parseValParam([text])).toEqual({ ok: true, val });
  });
  it.each([
    [undefined, /is missing/], [[], /is missing/], [['1', '2'], /more than once/],
    [['-1'], /out of range/], [['100001'], /out of range/], [['1e3'], /not an integer/], [['1.5'], /not an integer/],
    [['abc'], /not an integer/], [[''], /not an integer/], [['0x10'], /not an integer/], [['9'.repeat(400)], /…" is not an integer/],
  ])('rejects %j', (values, message) => {
    const result = parseValParam(values as string[] | undefined);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.detail).toMatch(message);
  });
});

describe('parseValBody', () => {
  it('accepts {"val": N}', () => expect(parseValBody({ val: 3000 })).toEqual({ ok: true, val: 3000 }));
  it.each([
    [null, /JSON object/], [[1], /JSON object/], ['1', /JSON object/], [{}, /has no "val"/],
    [{ val: '5' }, /JSON number, not "5"/], [{ val: 1.5 }, /JSON number/], [{ val: null }, /JSON number, not null/],
    [{ val: -3 }, /out of range/], [{ val: 1e9 }, /out of range/],
  ])('rejects %j', (body, message) => {
    const result = parseValBody(body);
    expect(!result.ok && result.detail).toMatch(message);
  });
});

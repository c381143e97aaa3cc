import { describe, expect, it } from 'vitest';
import { BUFFER_BYTES, LineBuffer } from './line-buffer.js';

describe('LineBuffer', () => {
  it('holds lines as UTF-8 bytes and counts them', () => {
    const b = new LineBuffer();
    expect(b.add('{"path":"/é"}\n')).toBe(true);
    expect(b.add('two\n')).toBe(true);
    expect(b.held().toString()).toBe('{"path":"/é"}\ntwo\n');
    expect(b.length).toBe(Buffer.byteLength('{"path":"/é"}\ntwo\n'));
    expect(b.lines).toBe(2);
    b.clear();
    expect([b.length, b.lines]).toEqual([0, 0]);
  });

  it('refuses a line that might not fit, rather than cutting it', () => {
    const b = new LineBuffer();
    const line = 'x'.repeat(1000) + '\n';
    let added = 0;
    while (b.add(line)) added++;
    // Added while the worst case (3 bytes a unit) still fits: 63 lines of 1001 bytes in 64 KiB.
    expect(added).toBe(Math.floor((BUFFER_BYTES - 3 * line.length) / line.length) + 1);
    expect(b.length).toBe(added * line.length);
    expect(b.held().toString()).toBe(line.repeat(added));
    expect(new LineBuffer().add('y'.repeat(BUFFER_BYTES))).toBe(false); // longer than a buffer: written on its own
  });

  it('hands out what it holds as a buffer of its own, and goes on empty', () => {
    const b = new LineBuffer();
    b.add('first\n');
    const taken = b.take();
    b.add('second\n');
    expect(taken.toString()).toBe('first\n');
    expect(b.held().toString()).toBe('second\n');
    expect(b.lines).toBe(1);
  });
});

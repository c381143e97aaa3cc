import { describe, expect, it } from 'vitest';
import { contentTypeOf } from './content-type.js';

describe('contentTypeOf', () => {
  it.each([
    ['.html', 'text/html; charset=utf-8'],
    ['.js', 'text/javascript; charset=utf-8'],
    ['.css', 'text/css; charset=utf-8'],
    ['.pdf', 'application/pdf'],
    ['.xml', 'application/xml'],
    ['.mp4', 'video/mp4'],
    ['.avif', 'image/avif'],
    ['.wasm', 'application/wasm'],
    ['.woff2', 'font/woff2'],
    ['.bin', 'application/octet-stream'],
    ['.no-such-type', 'application/octet-stream'],
    ['', 'application/octet-stream'],
  ])('%s is %s', (extension, type) => {
    expect(contentTypeOf(extension)).toBe(type);
    expect(contentTypeOf(extension)).toBe(type); // the remembered answer is the same
  });
});

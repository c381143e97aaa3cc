import { describe, expect, it } from 'vitest';
import { threadExecArgv } from './worker-exporter.js';

describe('the export thread’s flags', () => {
  it.each([
    [['--input-type=module', '-e', 'console.log(1)'], []],
    [['--dns-result-order=ipv4first', '-p', '1 + 1'], ['--dns-result-order=ipv4first']],
    [['--eval', 'x', '--max-old-space-size=512', '--input-type', 'module'], ['--max-old-space-size=512']],
    [['--enable-source-maps', '--eval=x', '--print=y'], ['--enable-source-maps']],
    [[], []],
  ])('keep the process’s own flags and drop its main script’s input: %j', (given, kept) => {
    expect(threadExecArgv(given)).toEqual(kept);
  });
});

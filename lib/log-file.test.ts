import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogFile } from './log-file.js';

const dir = mkdtempSync(join(tmpdir(), 'portico-log-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const turn = () => new Promise((r) => setTimeout(r, 20));

describe('LogFile', () => {
  it('appends every line in order, in buffers, and writes what waits when closed, after the write under way', async () => {
    const path = join(dir, 'order.log');
    const file = new LogFile(path);
    for (let i = 0; i < 1000; i++) file.write(`${i}\n`);
    await turn();
    for (let i = 1000; i < 1500; i++) file.write(`${i}\n`);
    file.write('x'.repeat(1 << 20) + '\n'); // a large batch, likely still on its way when close() comes
    await new Promise(setImmediate);
    for (let i = 1500; i < 1600; i++) file.write(`${i}\n`);
    await file.close();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines.filter((l) => !l.startsWith('x')).map(Number)).toEqual(Array.from({ length: 1600 }, (_, i) => i));
    expect(lines.findIndex((l) => l.startsWith('x'))).toBe(1500); // nothing overtook the batch under way
  });

  it('writes what it holds without being closed, within moments', async () => {
    const path = join(dir, 'flushed.log');
    const file = new LogFile(path);
    file.write('soon\n');
    // FLUSH_MS is 100: two seconds leave room for a loaded machine.
    for (let waited = 0; waited < 2000 && readFileSync(path, 'utf8') === ''; waited += 20) await turn();
    expect(readFileSync(path, 'utf8')).toBe('soon\n');
    await file.close();
  });

  it('writes the lines logged before reopen() to the old file, and goes on in a new file at the same path', async () => {
    const path = join(dir, 'rotated.log');
    const file = new LogFile(path);
    file.write('a\n');
    await turn();
    renameSync(path, `${path}.1`); // logrotate moves the file, then signals
    file.write('b\n');
    file.reopen();
    file.write('c\n');
    await turn();
    file.write('d\n');
    await file.close();
    expect(readFileSync(`${path}.1`, 'utf8')).toBe('a\nb\n');
    expect(readFileSync(path, 'utf8')).toBe('c\nd\n');
  });

  it('still moves to the new file when closed straight after reopen()', async () => {
    const path = join(dir, 'rotated-then-closed.log');
    const file = new LogFile(path);
    renameSync(path, `${path}.1`);
    file.write('old\n');
    file.reopen(); // its write is under way when close() comes
    file.write('new\n');
    await file.close();
    expect(readFileSync(`${path}.1`, 'utf8')).toBe('old\n');
    expect(readFileSync(path, 'utf8')).toBe('new\n');
  });

  it('keeps the open file when the path cannot be opened again, and says why', async () => {
    const sub = mkdtempSync(join(dir, 'gone-'));
    const path = join(sub, 'x.log');
    const file = new LogFile(path);
    rmSync(sub, { recursive: true });
    const errors: string[] = [];
    file.reopen((err) => errors.push(err.message));
    expect(errors[0]).toMatch(/cannot open the log file .*x\.log: ENOENT \(its directory does not exist\)/);
    file.write('still\n'); // into the unlinked file: no crash, no error
    await turn();
    file.close();
  });

  it('names the path when it cannot be opened at all', () => {
    expect(() => new LogFile(join(dir, 'missing', 'x.log'))).toThrow(/cannot open the log file .*missing\/x\.log: ENOENT/);
  });
});

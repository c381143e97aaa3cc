import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const LOG_MODULE = new URL('../dist/lib/log.js', import.meta.url).href;
const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

/** Runs `body` in a fresh Node process whose stdout is a file, and returns the file's lines. */
function linesLoggedToFile(body: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'portico-log-'));
  dirs.push(dir);
  const fd = openSync(join(dir, 'out.log'), 'w');
  try {
    execFileSync(process.execPath, ['--input-type=module', '-e', `import { createLogger } from ${JSON.stringify(LOG_MODULE)};\nconst log = createLogger('test');\n${body}`], { stdio: ['ignore', fd, 'inherit'] });
  } finally {
    closeSync(fd);
  }
  return readFileSync(join(dir, 'out.log'), 'utf8').split('\n').filter(Boolean);
}

describe('logging to a file', () => {
  it('writes every line of a burst whole and in order, the ones of the last turn included at exit', () => {
    const lines = linesLoggedToFile(`for (let i = 0; i < 5000; i++) log.info({ i, path: '/"quoted"' }, 'request'); setImmediate(() => { log.warn({ last: true }, 'after a turn'); process.exit(0); });`);
    expect(lines).toHaveLength(5001);
    const parsed = lines.map((l) => JSON.parse(l) as { i?: number; msg: string; component: string; path?: string });
    expect(parsed.slice(0, 5000).map((l) => l.i)).toEqual([...Array(5000).keys()]);
    expect(parsed[0]).toMatchObject({ level: 'info', component: 'test', msg: 'request', path: '/"quoted"' });
    expect(parsed[5000]).toMatchObject({ level: 'warn', msg: 'after a turn' });
  });

  it('writes a line within moments while the process goes on running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-log-'));
    dirs.push(dir);
    const path = join(dir, 'out.log');
    const fd = openSync(path, 'w');
    const child = spawn(process.execPath, ['--input-type=module', '-e', `import { createLogger } from ${JSON.stringify(LOG_MODULE)};\nconst log = createLogger('test');\nlog.info('soon');\nsetTimeout(() => {}, 10_000);`], { stdio: ['ignore', fd, 'inherit'] });
    closeSync(fd);
    try {
      // Held at most 100 ms (line-buffer.ts): five seconds leave room for a loaded machine, and the process is still running.
      for (let waited = 0; waited < 5000 && !readFileSync(path, 'utf8').includes('"msg":"soon"'); waited += 50) await new Promise((r) => setTimeout(r, 50));
      expect(child.exitCode).toBeNull();
      expect(readFileSync(path, 'utf8')).toContain('"msg":"soon"');
    } finally {
      child.kill();
    }
  });

  it('writes lines logged just before an uncaught exception ends the process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-log-'));
    dirs.push(dir);
    const fd = openSync(join(dir, 'out.log'), 'w');
    try {
      execFileSync(process.execPath, ['--input-type=module', '-e', `import { createLogger } from ${JSON.stringify(LOG_MODULE)};\nconst log = createLogger('test');\nlog.error('about to fail');\nthrow new Error('boom');`], { stdio: ['ignore', fd, 'ignore'] });
    } catch {
      // exits 1, as expected
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(join(dir, 'out.log'), 'utf8')).toContain('"msg":"about to fail"');
  });
});

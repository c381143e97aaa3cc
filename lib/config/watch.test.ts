import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { watchConfigFile } from './watch.js';

const dir = mkdtempSync(join(tmpdir(), 'portico-watch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const settle = () => new Promise((r) => setTimeout(r, 300));

describe('watchConfigFile', () => {
  it('calls back when the content changes, not when it is rewritten unchanged', async () => {
    const file = join(dir, 'a.yaml');
    writeFileSync(file, 'one');
    let calls = 0;
    const watcher = watchConfigFile(file, () => calls++, { debounceMs: 50, pollMs: 100 });
    writeFileSync(file, 'one');
    await settle();
    expect(calls).toBe(0);
    writeFileSync(file, 'two');
    await settle();
    expect(calls).toBe(1);
    watcher.stop();
  });

  it('after a resync, notices a change back to the content it saw before (A → B read elsewhere → A)', async () => {
    const file = join(dir, 'b.yaml');
    writeFileSync(file, 'A');
    let calls = 0;
    const watcher = watchConfigFile(file, () => calls++, { debounceMs: 200, pollMs: 10_000 });
    writeFileSync(file, 'B');
    watcher.resync(); // POST /reload read B
    writeFileSync(file, 'A'); // fixed within the debounce
    await new Promise((r) => setTimeout(r, 500));
    expect(calls).toBe(1);
    watcher.stop();
  });
});

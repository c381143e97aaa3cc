import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generate } from 'selfsigned';
import { AcmeStore, STALE_LOCK_MS } from './store.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
const stateDir = () => { const d = mkdtempSync(join(tmpdir(), 'portico-acme-store-')); dirs.push(d); return d; };
const pems = (name: string) => generate([{ name: 'commonName', value: name }], { keyType: 'ec', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: name }] }] });

describe('AcmeStore', () => {
  it('one lock holder at a time; the holder alone removes it; an unrefreshed lock is taken over', () => {
    const dir = stateDir();
    const a = new AcmeStore(dir, 'https://ca/dir', ['a.test']);
    const b = new AcmeStore(dir, 'https://ca/dir', ['a.test']);
    expect(a.lock()).toBe(true);
    expect(b.lock()).toBe(false);
    b.unlock(); // not b's: stays
    expect(b.lock()).toBe(false);
    expect(b.holder()?.pid).toBe(process.pid);
    // a stops refreshing it (died mid-order): after a minute, b takes over.
    expect(b.lock(Date.now() + STALE_LOCK_MS + 1000)).toBe(true);
    a.unlock(); // a's lock is gone: b's stays
    expect(a.lock()).toBe(false);
  });

  it('keys the certificate by CA directory and names: another CA is another certificate', async () => {
    const dir = stateDir();
    const staging = new AcmeStore(dir, 'https://staging/dir', ['a.test']);
    const { cert, private: key } = await pems('a.test');
    staging.saveCertificate(key, cert);
    expect(staging.stored()?.names).toEqual(['a.test']);
    expect(new AcmeStore(dir, 'https://production/dir', ['a.test']).stored()).toBeUndefined();
    expect(new AcmeStore(dir, 'https://staging/dir', ['a.test', 'b.test']).stored()).toBeUndefined();
  });

  it('a stored pair that does not match (a crash between the two renames) is not served: the manager orders anew', async () => {
    const dir = stateDir();
    const store = new AcmeStore(dir, 'https://ca/dir', ['a.test']);
    const first = await pems('a.test');
    const second = await pems('a.test');
    store.saveCertificate(first.private, first.cert);
    writeFileSync(store.files.key, second.private);
    expect(store.stored()).toBeUndefined();
  });

  it('shares the backoff between the processes using the directory', () => {
    const dir = stateDir();
    const a = new AcmeStore(dir, 'https://ca/dir', ['a.test']);
    a.lock();
    a.saveBackoff({ failures: 2, nextAttemptAt: 12345 });
    expect(new AcmeStore(dir, 'https://ca/dir', ['a.test']).backoff()).toEqual({ failures: 2, nextAttemptAt: 12345 });
  });
});

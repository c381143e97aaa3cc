import { spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/paths.js';
import { ensureDevCertificate, keepDevCertificateFresh, RENEW_BEFORE_DAYS } from './dev-cert.js';

const dir = mkdtempSync(join(tmpdir(), 'portico-dev-cert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DAY = 86_400_000;
const notAfter = (file: string) => Date.parse(new X509Certificate(readFileSync(file)).validTo);
const matches = (files: { cert: string; key: string }) => new X509Certificate(readFileSync(files.cert)).checkPrivateKey(createPrivateKey(readFileSync(files.key)));

/**
 * Runs ensureDevCertificate (the built module, as the proxy workers run it) in a process of its own,
 * starting at the wall-clock instant `at`; resolves with its exit code and whether it made the pair.
 */
function ensureInProcess(certDir: string, at: number): Promise<{ code: number | null; created: boolean }> {
  const module = join(PROJECT_ROOT, 'dist/proxy/listen/dev-cert.js');
  const script = `const m = await import(${JSON.stringify(module)}); while (Date.now() < ${at}); process.stdout.write(String((await m.ensureDevCertificate(${JSON.stringify(certDir)})).created));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, created: out === 'true' })));
}

describe('the development certificate', () => {
  it('is renewed well before the expiry alert (14 days): reused until 30 days are left, then made anew', async () => {
    expect(RENEW_BEFORE_DAYS).toBeGreaterThan(14);
    const t0 = new Date('2026-12-01T00:00:00Z');
    const first = await ensureDevCertificate(dir, t0);
    expect(first.created).toBe(true);
    expect((await ensureDevCertificate(dir, new Date(t0.getTime() + 59 * DAY))).created).toBe(false);
    const renewed = await ensureDevCertificate(dir, new Date(t0.getTime() + 61 * DAY));
    expect(renewed.created).toBe(true);
    expect(notAfter(renewed.cert)).toBeGreaterThan(t0.getTime() + 140 * DAY);
  });

  it('is renewed in place while the process runs, and the listener is handed the new files', async () => {
    let clock = new Date('2027-01-01T00:00:00Z');
    const own = mkdtempSync(join(dir, 'running-'));
    await ensureDevCertificate(own, clock);
    const renewed: string[] = [];
    const stop = keepDevCertificateFresh(own, (files) => renewed.push(files.cert), (err) => { throw err; }, { now: () => clock, everyMs: 20 });
    try {
      await new Promise((r) => setTimeout(r, 100));
      expect(renewed).toEqual([]); // fresh: nothing to do
      clock = new Date(clock.getTime() + 70 * DAY);
      for (let i = 0; i < 250 && renewed.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100)); // checks that come after find it fresh again
      expect(renewed).toEqual([join(own, 'dev-cert.pem')]);
      expect(notAfter(renewed[0]!)).toBeGreaterThan(clock.getTime() + 80 * DAY);
    } finally {
      stop();
    }
  });

  it('is made by one process when workers start at once: they share one matching pair', async () => {
    for (let round = 0; round < 4; round++) {
      const shared = mkdtempSync(join(dir, 'workers-'));
      const at = Date.now() + 1500; // after every process has loaded the module
      const runs = await Promise.all(Array.from({ length: 4 }, () => ensureInProcess(shared, at)));
      expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
      // One made it; the others waited for it and took it (before: each made and wrote its own).
      expect(runs.filter((r) => r.created)).toHaveLength(1);
      expect(matches({ cert: join(shared, 'dev-cert.pem'), key: join(shared, 'dev-key.pem') })).toBe(true);
      expect(readdirSync(shared).sort()).toEqual(['dev-cert.pem', 'dev-key.pem']); // no lock or temporary file left
    }
  }, 60_000);

  it('makes a pair anew when the key on disk is not the one of the certificate (left by an earlier race)', async () => {
    const a = mkdtempSync(join(dir, 'mismatch-a-'));
    const b = mkdtempSync(join(dir, 'mismatch-b-'));
    const first = await ensureDevCertificate(a);
    copyFileSync((await ensureDevCertificate(b)).key, first.key);
    expect(matches(first)).toBe(false);
    const repaired = await ensureDevCertificate(a);
    expect(repaired.created).toBe(true);
    expect(matches(repaired)).toBe(true);
  });

  it('takes over a lock left by a process that died holding it', async () => {
    const own = mkdtempSync(join(dir, 'stale-'));
    const lock = join(own, 'dev-cert.lock');
    writeFileSync(lock, '');
    utimesSync(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const made = await ensureDevCertificate(own);
    expect(made.created).toBe(true);
    expect(matches(made)).toBe(true);
    expect(readdirSync(own).sort()).toEqual(['dev-cert.pem', 'dev-key.pem']);
  });
});

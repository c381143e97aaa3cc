import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureDevCertificate, keepDevCertificateFresh, RENEW_BEFORE_DAYS } from './dev-cert.js';

const dir = mkdtempSync(join(tmpdir(), 'portico-dev-cert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DAY = 86_400_000;
const notAfter = (file: string) => Date.parse(new X509Certificate(readFileSync(file)).validTo);

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
});

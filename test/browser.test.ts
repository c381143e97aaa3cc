/**
 * The demo page in a real browser (Debian's chromium driven by playwright-core),
 * through the proxy over HTTPS, in front of a pool of two backends: one call,
 * a burst answered by both backends, and the message for an invalid value.
 * Without chromium the suite is skipped and says why; CI installs it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, portico, type PorticoProcess, ROOT, waitUntil, writeConfig } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const OUTPUT = join(ROOT, 'test-results');
const available = existsSync(CHROMIUM);

describe.skipIf(!available)(`demo page in chromium${available ? '' : ' (skipped: /usr/bin/chromium not installed; apt-get install -y chromium)'}`, () => {
  let master: PorticoProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    master = portico(['--config', writeConfig(`listen: { http: "127.0.0.1:0", https: "127.0.0.1:0", admin: "127.0.0.1:0" }
tls: { cert: auto }
pool: { processes: 2, base_port: 0 }
routes:
  - { name: api, path: /api/, upstream: inference }
  - { name: static, path: /, static: ${join(ROOT, 'static')} }
`)]);
    const ready = await master.waitForLog((l) => l.msg === 'portico ready', 20_000);
    const admin = `http://127.0.0.1:${ready.admin as number}`;
    await waitUntil(async () => (await getJson(`${admin}/status`)).body.upstreams[0].servers.filter((s: { up: boolean }) => s.up).length === 2, 15_000, 'two backends');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 900 } });
    page = await context.newPage();
    await page.goto(`https://127.0.0.1:${ready.https as number}/`);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await master?.stop();
  });

  it('runs one request and shows the value, time and the backend that answered', async () => {
    await page.getByLabel('Value of val').fill('1000');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => page.locator('#summary').textContent(), { timeout: 10_000 }).toMatch(/^1 of 1 succeeded in \d+ ms, answered by 1 backend \(pid \d+\)\.$/);
    const row = page.locator('#results tr').first();
    await expect.poll(() => row.locator('td').nth(1).textContent()).toBe('200');
    expect(await row.locator('td').nth(3).textContent()).toMatch(/^\d+$/);
  });

  it('fires a burst of 8 and sees at least 2 distinct pids', async () => {
    await page.getByLabel('Value of val').fill('3000');
    await page.getByLabel('Number of concurrent requests in a burst').fill('8');
    await page.getByRole('button', { name: 'Burst' }).click();
    await expect.poll(() => page.locator('#summary').textContent(), { timeout: 20_000 }).toMatch(/^8 of 8 succeeded/);
    const pids = await page.locator('#results tr td:nth-child(4)').allTextContents();
    expect(new Set(pids.slice(0, 8)).size).toBeGreaterThanOrEqual(2);
    await expect.poll(() => page.locator('#pool .server.up').count(), { timeout: 5000 }).toBe(2);
  });

  it('explains an invalid value and sends nothing', async () => {
    const rowsBefore = await page.locator('#results tr').count();
    await page.getByLabel('Value of val').fill('12abc');
    await page.keyboard.press('Enter');
    const error = page.locator('#val-error');
    await expect.poll(() => error.isVisible()).toBe(true);
    expect(await error.textContent()).toBe('Enter a whole number from 0 to 100000.');
    expect(await page.getByLabel('Value of val').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#results tr').count()).toBe(rowsBefore);
    await page.getByLabel('Value of val').fill('100001');
    await page.getByRole('button', { name: 'Run' }).click();
    expect(await error.textContent()).toMatch(/100001 is out of range/);
  });

  it('takes a screenshot into test-results/', async () => {
    await page.getByLabel('Value of val').fill('3000');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => page.locator('#summary').textContent(), { timeout: 10_000 }).toMatch(/succeeded/);
    mkdirSync(OUTPUT, { recursive: true });
    const file = join(OUTPUT, 'demo-page.png');
    await page.screenshot({ path: file, fullPage: true });
    expect(existsSync(file)).toBe(true);
  });

  it('fits a phone-width screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await page.screenshot({ path: join(OUTPUT, 'demo-page-phone.png'), fullPage: true });
  });
});

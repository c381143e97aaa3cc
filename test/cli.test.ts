/** The `portico` command line and the native build script, as users run them. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, ROOT, writeConfig } from './helpers.js';

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('portico CLI', () => {
  it('--help lists the commands', () => {
    const { code, stdout } = run([CLI, '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/portico backend/);
    expect(stdout).toMatch(/portico check-config/);
  });

  it('check-config accepts the shipped config', () => {
    const { code, stdout } = run([CLI, 'check-config', join(ROOT, 'config/portico.yaml')]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/portico\.yaml: valid \(2 routes, 1 upstreams/);
  });

  it('check-config reads PORTICO_CONFIG when no file is given', () => {
    const file = writeConfig('routes: [ { path: /, upstream: nowhere } ]\n');
    const { code, stderr } = run([CLI, 'check-config'], { PORTICO_CONFIG: file });
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}:1:32: routes[0].upstream: no upstream named "nowhere"`);
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['--nope'], /Unknown option '--nope'/],
    [['check-config', 'a.yaml', 'b.yaml'], /unexpected argument "b\.yaml"/],
  ])('refuses %j with exit code 2 and the usage', (args, message) => {
    const { code, stderr } = run([CLI, ...args]);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/Usage:/);
  });
});

describe('native build script', () => {
  it('names the missing compiler and how to install it', () => {
    const { code, stderr } = run([join(ROOT, 'scripts/build-native.mjs')], { CXX: 'no-such-g++' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/"no-such-g\+\+" is not installed/);
    expect(stderr).toMatch(/apt-get install -y g\+\+ make/);
  });
});

/** The `portico` command line and the native build script, as users run them. */
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, isAlive, portico, ROOT, writeConfig } from './helpers.js';

/** A free loopback port `base` and, held by us, base + 1. */
async function adjacentPorts(): Promise<{ base: number; server: Server }> {
  for (;;) {
    const held = await takePort();
    const probe = createServer();
    const free = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(held.port - 1, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => probe.close(resolve));
      return { base: held.port - 1, server: held.server };
    }
    held.server.close();
  }
}

/** Holds a loopback port, as another program would. */
async function takePort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

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

describe('start-up with a listener\'s port taken', () => {
  // nginx exits at once naming the address; a restart loop would only repeat EADDRINUSE (issue 18).
  it.each([['http'], ['admin']])('exits non-zero within 5 s naming the %s address, and leaves no process behind', async (which) => {
    const { port, server } = await takePort();
    try {
      const listen = { http: '127.0.0.1:0', https: '127.0.0.1:0', admin: '127.0.0.1:0', [which]: `127.0.0.1:${port}` };
      const file = writeConfig(`
listen: { http: "${listen.http}", admin: "${listen.admin}" }
pool: { processes: 1, base_port: 0 }
routes: [ { path: /, upstream: inference } ]
`);
      const started = performance.now();
      const master = portico(['--config', file]);
      const backend = master.waitForLog((l) => l.component === 'backend').catch(() => undefined);
      const { code } = await master.exited;
      expect(performance.now() - started).toBeLessThan(5000);
      expect(code).toBe(1);
      expect(master.stderr).toContain(`portico: cannot listen on 127.0.0.1:${port} (listen.${which}): the address is already in use (EADDRINUSE)`);
      expect(master.lines.filter((l) => /exited; restarting|crash loop/.test(String(l.msg)))).toEqual([]);
      const pid = (await backend)?.pid;
      if (pid !== undefined) expect(isAlive(pid)).toBe(false);
    } finally {
      server.close();
    }
  }, 20_000);

  it('after start-up, a backend added by a reload whose port is taken is retried, and the running system keeps serving', async () => {
    // Two adjacent ports: the first backend gets base, the one added later base + 1, which we hold.
    const { base, server } = await adjacentPorts();
    const yaml = (processes: number) => `listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }\npool: { processes: ${processes}, base_port: ${base} }\nroutes: [ { path: /, upstream: inference } ]\n`;
    const file = writeConfig(yaml(1));
    const master = portico(['--config', file]);
    try {
      const ready = await master.waitForLog((l) => l.msg === 'portico ready') as unknown as { http: number };
      writeFileSync(file, yaml(2));
      await master.waitForLog((l) => l.component === 'master' && /exited; restarting|crash loop/.test(String(l.msg)) && l.child === 'backend-2', 15_000);
      expect(master.child.exitCode).toBe(null);
      expect((await fetch(`http://127.0.0.1:${ready.http}/api/foo?val=10`)).status).toBe(200);
    } finally {
      server.close();
      await master.stop();
    }
  }, 30_000);

  it('`portico proxy` alone says the same on stderr and exits non-zero', async () => {
    const { port, server } = await takePort();
    try {
      const file = writeConfig(`listen: { http: "127.0.0.1:${port}", admin: "127.0.0.1:0" }\npool: { processes: 0 }\nroutes: [ { path: /, upstream: inference } ]\n`);
      const proxy = portico(['proxy', '--config', file]);
      const { code } = await proxy.exited;
      expect(code).not.toBe(0);
      expect(proxy.stderr).toContain(`cannot listen on 127.0.0.1:${port} (listen.http)`);
    } finally {
      server.close();
    }
  }, 20_000);
});

describe('native build script', () => {
  it('names the missing compiler and how to install it', () => {
    const { code, stderr } = run([join(ROOT, 'scripts/build-native.mjs')], { CXX: 'no-such-g++' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/"no-such-g\+\+" is not installed/);
    expect(stderr).toMatch(/apt-get install -y g\+\+ make/);
  });
});

/** Starts a fresh Portico for one scenario (free ports, quiet logs) and always stops it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI_SCRIPT } from '../lib/paths.js';
import { stopChild } from './tools.js';

export interface RunningPortico {
  http: string;
  /** Set when the config has `tls`. */
  https: string | undefined;
  admin: string;
  proxyPid: number;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of running) child.kill('SIGTERM');
    process.exit(130);
  });
}

export async function startPortico(yaml: string): Promise<RunningPortico> {
  const dir = mkdtempSync(join(tmpdir(), 'portico-bench-'));
  const file = join(dir, 'portico.yaml');
  writeFileSync(file, yaml);
  const child = spawn(process.execPath, [CLI_SCRIPT, '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const stop = async () => {
    await stopChild(child, 20_000); // the master drains its pool first
    running.delete(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ready = await new Promise<{ http: number; https?: number; admin: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Portico did not start in 30 s: ${stderr}`)), 30_000);
      child.once('exit', () => reject(new Error(`Portico exited at start: ${stderr}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (!line.includes('"portico ready"')) return;
        clearTimeout(timer);
        resolve(JSON.parse(line) as { http: number; https?: number; admin: number });
      });
    });
    const admin = `http://127.0.0.1:${ready.admin}`;
    let proxyPid = 0;
    for (let i = 0; i < 300; i++) {
      const status = (await (await fetch(`${admin}/status`)).json()) as { processes: Array<{ name: string; state: string; pid?: number }> };
      proxyPid = status.processes.find((p) => p.name === 'proxy')?.pid ?? 0;
      if (status.processes.every((p) => p.state === 'ready')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return { http: `http://127.0.0.1:${ready.http}`, https: ready.https ? `https://127.0.0.1:${ready.https}` : undefined, admin, proxyPid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** A config for a bench run: free ports, the local pool, HTTPS with a development certificate, and `upstream` lines under upstreams.inference. */
export function benchConfig(upstream: string, pool = '', processes: number | 'auto' = 'auto'): string {
  return `listen: { http: "127.0.0.1:0", https: "127.0.0.1:0", admin: "127.0.0.1:0" }
tls: { cert: auto }
access_log: false
pool: { processes: ${processes}, base_port: 0 ${pool} }
upstreams:
  inference:
${upstream.split('\n').map((l) => `    ${l}`).join('\n')}
routes:
  - { name: api, path: /api/, upstream: inference }
`;
}

/**
 * Helpers for cross-process tests: run the real `portico` command, read its
 * JSON log lines, write temporary configs, and make sure every process dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '..');
export const CLI = join(ROOT, 'dist/bin/portico.js');

export type LogLine = Record<string, unknown> & { msg?: string; component?: string; pid?: number };

export class PorticoProcess {
  readonly lines: LogLine[] = [];
  stderr = '';
  private waiters: Array<{ test: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        return;
      }
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => (w.test(line) ? (w.resolve(line), false) : true));
    });
    child.stderr!.on('data', (chunk: Buffer) => { this.stderr += chunk.toString(); });
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves with the first log line (past or future) that passes `test`. */
  waitForLog(test: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const found = this.lines.find(test);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const fail = (why: string) => reject(new Error(`${why}; stderr: ${this.stderr.slice(-2000)}`));
      const timer = setTimeout(() => fail(`no matching log line in ${timeoutMs} ms`), timeoutMs);
      void this.exited.then(({ code, signal }) => { clearTimeout(timer); fail(`exited (code ${code}, signal ${signal}) before the log line`); });
      this.waiters.push({ test, resolve: (l) => { clearTimeout(timer); resolve(l); } });
    });
  }

  /** Signals the process and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}

/** Runs `portico ARGS` from the compiled CLI; `detached` gives it a process group of its own, as a terminal would. */
export function portico(args: string[], env: Record<string, string> = {}, detached = false): PorticoProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    detached,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORTICO_LOG_LEVEL: 'info', ...env },
  });
  return new PorticoProcess(child);
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Writes `text` to portico.yaml in a fresh temporary folder (removed after the file's tests); returns its path. */
export function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'portico-test-'));
  tempDirs.push(dir);
  const file = join(dir, 'portico.yaml');
  writeFileSync(file, text);
  return file;
}

/** Whether a process with this pid exists (and is not a zombie we reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(test: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** fetch + JSON body (or text when the body is not JSON). */
export async function getJson(url: string, init?: RequestInit): Promise<JsonResponse> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, headers: res.headers, body };
}

export type Behaviour = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A plain node:http origin on a free port; by default it echoes the request as JSON. */
export async function origin(name: string, behaviour?: Behaviour): Promise<{ server: Server; url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      if (behaviour) return behaviour(req, res, body);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name, method: req.method, url: req.url, body, requestId: req.headers['x-request-id'] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits };
}

/** A URL on which nothing listens: bind a port, then release it. */
export async function deadUrl(): Promise<string> {
  const { server, url } = await origin('dead');
  await new Promise((resolve) => server.close(resolve));
  return url;
}


/** Active health checks off unless a test turns them on: they would count as hits. */
export const QUIET = 'policy: round-robin\n    health: { path: "" }';

/** `portico proxy` alone (no pool) in front of `servers`, as upstream "app" on route "/". */
export async function startProxy(servers: string[], upstreamYaml = QUIET, topYaml = ''): Promise<{ proc: PorticoProcess; http: string; admin: string }> {
  const file = writeConfig(`
${topYaml}
listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 0 }
upstreams:
  app:
    ${upstreamYaml}
    servers: [ ${servers.map((s) => `"${s}"`).join(', ')} ]
routes:
  - { path: /, upstream: app }
`);
  const { proc, port, admin } = await runProxy(file);
  return { proc, http: `http://127.0.0.1:${port}`, admin };
}

export interface RunningProxy {
  proc: PorticoProcess;
  /** The HTTP listener's port. */
  port: number;
  /** The HTTPS listener's port, when the config has `tls`. */
  https: number | undefined;
  /** The admin listener's base URL. */
  admin: string;
}

/** `portico proxy --config FILE`, once it listens. */
export async function runProxy(file: string): Promise<RunningProxy> {
  const proc = portico(['proxy', '--config', file]);
  const ready = await proc.waitForLog((l) => l.msg === 'proxy listening');
  const { http, https, admin } = ready as unknown as { http: AddressInfo; https?: number; admin: AddressInfo };
  return { proc, port: http.port, https, admin: `http://127.0.0.1:${admin.port}` };
}


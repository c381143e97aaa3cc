/**
 * The access log through the whole system (master, proxy, real TLS): the fields
 * operators expect from nginx's combined format and its upstream variables, a
 * file destination reopened on SIGUSR1 after logrotate moved it, and the errors
 * a bad path gets at start and at reload.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadUrl, getJson, origin, portico, type PorticoProcess, waitUntil, writeConfig } from './helpers.js';

let master: PorticoProcess;
let file: string;
let logFile: string;
let http: string;
let https: number;
let admin: string;
let config: string;

beforeAll(async () => {
  const app = await origin('app');
  const dead = await deadUrl();
  file = writeConfig('');
  logFile = join(dirname(file), 'logs', 'access.log');
  mkdirSync(dirname(logFile));
  // The dead server first: round-robin sends the first request there, and the GET is retried on the live one.
  config = `
listen: { http: "127.0.0.1:0", https: "127.0.0.1:0", admin: "127.0.0.1:0" }
tls: { cert: auto }
pool: { processes: 0 }
access_log: { file: logs/access.log }
upstreams:
  app:
    policy: round-robin
    health: { path: "" }
    servers: [ "${dead}", "${app.url}" ]
routes:
  - { path: /, upstream: app }
`;
  writeFileSync(file, config);
  master = portico(['--config', file]);
  const ready = await master.waitForLog((l) => l.msg === 'portico ready', 20_000);
  http = `http://127.0.0.1:${ready.http as number}`;
  https = ready.https as number;
  admin = `http://127.0.0.1:${ready.admin as number}`;
}, 30_000);

afterAll(async () => master?.stop());

function linesOf(path: string): Array<Record<string, unknown>> {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function lineFor(path: string, id: string): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitUntil(() => (found = linesOf(path).find((l) => l.id === id)) !== undefined, 5000, `the access-log line of ${id} in ${path}`);
  return found!;
}

function httpsGet(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpsRequest({ host: '127.0.0.1', port: https, path, servername: 'localhost', rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.headers['x-request-id'])));
    }).on('error', reject).end();
  });
}

/** GETs over one HTTP/2 connection: each response's request id and body size. */
async function http2Gets(paths: string[]): Promise<Array<{ id: string; size: number }>> {
  const session = http2Connect(`https://127.0.0.1:${https}`, { servername: 'localhost', rejectUnauthorized: false });
  try {
    return await Promise.all(paths.map((path) => new Promise<{ id: string; size: number }>((resolve, reject) => {
      const stream = session.request({ ':path': path });
      let id = '';
      let size = 0;
      stream.on('response', (headers) => { id = String(headers['x-request-id']); });
      stream.on('data', (chunk: Buffer) => { size += chunk.length; });
      stream.on('end', () => resolve({ id, size }));
      stream.on('error', reject);
    })));
  } finally {
    session.close();
  }
}

describe('the access log', () => {
  it('carries nginx\'s combined fields and the upstream\'s address and timings, every server tried', async () => {
    const body = JSON.stringify({ hello: 'x'.repeat(300) });
    const res = await fetch(`${http}/things?q=1`, {
      method: 'PUT', body, headers: { 'content-type': 'application/json', 'user-agent': 'curl/8.5 "quoted"', referer: 'https://example.com/page' },
    });
    expect(res.status).toBe(200);
    const line = await lineFor(logFile, res.headers.get('x-request-id')!);
    expect(line).toMatchObject({
      msg: 'request', method: 'PUT', path: '/things?q=1', protocol: 'HTTP/1.1', host: expect.stringMatching(/^127\.0\.0\.1:\d+$/), status: 200,
      user_agent: 'curl/8.5 "quoted"', referer: 'https://example.com/page', route: 'root', upstream: 'app', completed: true,
    });
    // The PUT was refused by the dead server (never sent), then answered by the live one.
    expect(String(line.upstream_addr).split(', ')).toHaveLength(2);
    expect(line.server).toBe(String(line.upstream_addr).split(', ')[1]);
    expect(line.request_length).toBeGreaterThan(body.length + 100);
    for (const key of ['upstream_connect_time', 'upstream_header_time', 'upstream_response_time']) expect(line[key]).toBeTypeOf('number');
    expect(line.upstream_connect_time as number).toBeLessThanOrEqual(line.upstream_header_time as number);
    expect(line.upstream_header_time as number).toBeLessThanOrEqual(line.upstream_response_time as number);
    expect(line.upstream_response_time as number).toBeLessThanOrEqual(line.duration as number);
    expect(line).not.toHaveProperty('tls_version');
  });

  it('names the TLS version and cipher of an HTTPS client', async () => {
    const id = await httpsGet('/over-tls');
    const line = await lineFor(logFile, id);
    expect(line).toMatchObject({ path: '/over-tls', tls_version: 'TLSv1.3', tls_cipher: expect.stringMatching(/^TLS_/) });
  });

  it('gives an HTTP/2 response its body size and the connection\'s TLS, though the stream has closed when the line is written', async () => {
    const answers = await http2Gets(['/h2-first', '/h2-second?' + 'q'.repeat(500)]);
    for (const { id, size } of answers) {
      const line = await lineFor(logFile, id);
      expect(size).toBeGreaterThan(0);
      expect(line).toMatchObject({ protocol: 'HTTP/2.0', status: 200, bytes: size, tls_version: 'TLSv1.3', tls_cipher: expect.stringMatching(/^TLS_/) });
    }
  });

  it('goes to the new file after logrotate moves it and SIGUSR1 reaches the master; nothing is lost', async () => {
    const before = (await fetch(`${http}/before-rotate`)).headers.get('x-request-id')!;
    await lineFor(logFile, before);
    renameSync(logFile, `${logFile}.1`);
    // Until the reopen, lines still go to the moved file (the descriptor follows it).
    const moved = (await fetch(`${http}/while-moved`)).headers.get('x-request-id')!;
    await lineFor(`${logFile}.1`, moved);
    master.child.kill('SIGUSR1');
    await master.waitForLog((l) => l.msg === 'SIGUSR1: reopening the access log file');
    await waitUntil(() => existsSync(logFile), 5000, 'the reopened file');
    const after = (await fetch(`${http}/after-rotate`)).headers.get('x-request-id')!;
    await lineFor(logFile, after);
    expect(linesOf(`${logFile}.1`).map((l) => l.id)).not.toContain(after);
    expect(linesOf(logFile).map((l) => l.id)).not.toContain(moved);
    expect(master.child.exitCode).toBeNull(); // SIGUSR1 did not start an inspector or end anything
  });

  it('refuses a reload to a file in a missing directory, and keeps writing where it did', async () => {
    writeFileSync(file, config.replace('logs/access.log', 'no-such-dir/access.log'));
    const reload = await getJson(`${admin}/reload`, { method: 'POST' });
    expect(reload.status).toBe(422);
    expect(JSON.stringify(reload.body)).toMatch(/access_log\.file.*no-such-dir is not a directory/);
    const id = (await fetch(`${http}/after-bad-reload`)).headers.get('x-request-id')!;
    await lineFor(logFile, id);
    writeFileSync(file, config);
  });
});

describe('an access log file that cannot be opened', () => {
  it('ends the start with the path and the reason', async () => {
    const dir = dirname(writeConfig(''));
    mkdirSync(join(dir, 'locked'), { mode: 0o500 });
    const cfg = join(dir, 'portico.yaml');
    // A directory in the file's place: EISDIR even for root, who may write anywhere else.
    mkdirSync(join(dir, 'locked', 'access.log'), { recursive: true });
    writeFileSync(cfg, 'listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }\npool: { processes: 0 }\naccess_log: { file: locked/access.log }\nroutes:\n  - { path: /, static: . }\n');
    const proc = portico(['--config', cfg]);
    const { code } = await proc.exited;
    expect(code).toBe(1);
    expect(proc.stderr).toMatch(/cannot open the log file .*locked\/access\.log: EISDIR.*access_log\.file/);
  }, 15_000);
});

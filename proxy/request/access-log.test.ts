import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FLUSH_MS } from '../../lib/line-buffer.js';
import { BATCH, createAccessLog, type AccessFields } from './access-log.js';

const fields: AccessFields = {
  id: 'req-1', client: '203.0.113.7', method: 'GET', path: '/a?q=1', protocol: 'HTTP/1.1', host: 'example.com', status: 200, bytes: 225, requestLength: 120,
  duration: 0.001234, route: 'api', upstream: 'inference', server: 'http://127.0.0.1:4002', upstreamAddr: 'http://127.0.0.1:4001, http://127.0.0.1:4002',
  upstreamConnectTime: 0.0001, upstreamHeaderTime: 0.0009, upstreamResponseTime: 0.001, cache: undefined, userAgent: 'curl/8.5', referer: undefined,
  tlsVersion: 'TLSv1.3', tlsCipher: 'TLS_AES_256_GCM_SHA384', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', completed: true,
};

/** The same line as pino writes it from an object with the log's field names. */
const asPino = {
  id: 'req-1', client: '203.0.113.7', method: 'GET', path: '/a?q=1', protocol: 'HTTP/1.1', host: 'example.com', status: 200, bytes: 225, request_length: 120,
  duration: 0.001234, route: 'api', upstream: 'inference', server: 'http://127.0.0.1:4002', upstream_addr: 'http://127.0.0.1:4001, http://127.0.0.1:4002',
  upstream_connect_time: 0.0001, upstream_header_time: 0.0009, upstream_response_time: 0.001, user_agent: 'curl/8.5',
  tls_version: 'TLSv1.3', tls_cipher: 'TLS_AES_256_GCM_SHA384', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7', completed: true,
};

function capture(level = 'info') {
  const lines: string[] = [];
  const log = pino({ level, base: { component: 'proxy', pid: 42 }, formatters: { level: (label) => ({ level: label }) } }, { write: (line: string) => { lines.push(line); } });
  return { lines, log };
}

describe('access log lines', () => {
  it('are the JSON lines pino would write for the same fields', () => {
    const { lines, log } = capture();
    const access = createAccessLog(log);
    access(fields);
    access.flush();
    log.info(asPino, 'request');
    const [ours, pinos] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect({ ...ours, time: 0 }).toEqual({ ...pinos, time: 0 });
    expect(Object.keys(ours!)).toEqual(Object.keys(pinos!));
    expect(lines[0]!.endsWith('\n')).toBe(true);
  });

  it('escapes what a client controls (quotes, backslashes, control characters) and leaves out empty upstream fields', () => {
    const { lines, log } = capture();
    const access = createAccessLog(log);
    access({ ...fields, path: '/"x"\\\u0001\u00e9', userAgent: 'a "b"\n', upstream: '', server: '', upstreamAddr: '', cache: 'HIT', tlsVersion: undefined, traceId: undefined });
    access.flush();
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line.path).toBe('/"x"\\\u0001\u00e9');
    expect(line.user_agent).toBe('a "b"\n');
    for (const absent of ['upstream', 'server', 'upstream_addr', 'upstream_connect_time', 'tls_version', 'tls_cipher', 'trace_id', 'span_id', 'referer']) expect(line).not.toHaveProperty(absent);
    expect(line.cache).toBe('HIT');
  });

  it('writes bytes as null when the connection is gone (NaN is not JSON), as pino did', () => {
    const { lines, log } = capture();
    const access = createAccessLog(log);
    access({ ...fields, bytes: Number.NaN, upstreamResponseTime: Number.NaN });
    access.flush();
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect([line.bytes, line.upstream_response_time]).toEqual([null, null]);
  });

  it('is silent when the log level is above info, unless it goes to a file of its own', () => {
    const { lines, log } = capture('warn');
    const toStdout = createAccessLog(log);
    toStdout(fields);
    toStdout.flush();
    expect(lines).toEqual([]);
    const file: string[] = [];
    const toFile = createAccessLog(log, () => ({ write: (line) => void file.push(line) }));
    toFile(fields);
    toFile.flush();
    expect(file).toHaveLength(1);
  });
});

describe('access log batches', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('makes the lines of a batch together, in order, each with the time its exchange ended', () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-02T10:00:00.000Z') });
    const { lines, log } = capture();
    const access = createAccessLog(log);
    access({ ...fields, id: 'a' });
    vi.setSystemTime(Date.parse('2026-12-02T10:00:00.007Z'));
    access({ ...fields, id: 'b' });
    expect(lines).toEqual([]);
    access.flush();
    expect(lines.map((l) => JSON.parse(l) as { id: string; time: string }).map((l) => [l.id, l.time])).toEqual([['a', '2026-12-02T10:00:00.000Z'], ['b', '2026-12-02T10:00:00.007Z']]);
  });

  it('writes a full batch at once, and what waits within FLUSH_MS', () => {
    vi.useFakeTimers();
    const { lines, log } = capture();
    const access = createAccessLog(log);
    for (let i = 0; i < BATCH - 1; i++) access(fields);
    expect(lines).toHaveLength(0);
    access(fields);
    expect(lines).toHaveLength(BATCH);
    access({ ...fields, id: 'late' });
    vi.advanceTimersByTime(FLUSH_MS - 1);
    expect(lines).toHaveLength(BATCH);
    vi.advanceTimersByTime(1);
    expect(lines).toHaveLength(BATCH + 1);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ id: 'late' });
  });

  it('writes what waits when the process exits, ahead of the destination\'s own last write', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portico-access-'));
    const out = join(dir, 'out.log');
    const fd = openSync(out, 'w');
    const module = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
    try {
      // stdout a file: lines go to a 64 KiB buffer that the logger writes at exit (lib/log.ts).
      execFileSync(process.execPath, ['--input-type=module', '-e', `import { createLogger } from ${module('../../dist/lib/log.js')};
import { createAccessLog } from ${module('../../dist/proxy/request/access-log.js')};
const access = createAccessLog(createLogger('proxy'));
for (let i = 0; i < 3; i++) access(${JSON.stringify(fields)});
process.exit(0);`], { stdio: ['ignore', fd, 'inherit'] });
    } finally {
      closeSync(fd);
    }
    try {
      expect(readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['request', 'request', 'request']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

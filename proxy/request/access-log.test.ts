import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createAccessLog, type AccessFields } from './access-log.js';

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
    createAccessLog(log)(fields);
    log.info(asPino, 'request');
    const [ours, pinos] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect({ ...ours, time: 0 }).toEqual({ ...pinos, time: 0 });
    expect(Object.keys(ours!)).toEqual(Object.keys(pinos!));
    expect(lines[0]!.endsWith('\n')).toBe(true);
  });

  it('escapes what a client controls (quotes, backslashes, control characters) and leaves out empty upstream fields', () => {
    const { lines, log } = capture();
    createAccessLog(log)({ ...fields, path: '/"x"\\\u0001\u00e9', userAgent: 'a "b"\n', upstream: '', server: '', upstreamAddr: '', cache: 'HIT', tlsVersion: undefined, traceId: undefined });
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line.path).toBe('/"x"\\\u0001\u00e9');
    expect(line.user_agent).toBe('a "b"\n');
    for (const absent of ['upstream', 'server', 'upstream_addr', 'upstream_connect_time', 'tls_version', 'tls_cipher', 'trace_id', 'span_id', 'referer']) expect(line).not.toHaveProperty(absent);
    expect(line.cache).toBe('HIT');
  });

  it('writes bytes as null when the connection is gone (NaN is not JSON), as pino did', () => {
    const { lines, log } = capture();
    createAccessLog(log)({ ...fields, bytes: Number.NaN, upstreamResponseTime: Number.NaN });
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect([line.bytes, line.upstream_response_time]).toEqual([null, null]);
  });

  it('is silent when the log level is above info, unless it goes to a file of its own', () => {
    const { lines, log } = capture('warn');
    createAccessLog(log)(fields);
    expect(lines).toEqual([]);
    const file: string[] = [];
    createAccessLog(log, () => ({ write: (line) => void file.push(line) }))(fields);
    expect(file).toHaveLength(1);
  });
});

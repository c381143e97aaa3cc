import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createAccessLog, type AccessFields } from './access-log.js';

const fields: AccessFields = {
  id: 'req-1', client: '203.0.113.7', method: 'GET', path: '/a?q=1', status: 200, bytes: 225, duration: 0.001234,
  route: 'api', upstream: 'inference', server: 'http://127.0.0.1:4001', cache: undefined, completed: true,
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
    log.info({ ...fields, cache: undefined }, 'request');
    const [ours, pinos] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect({ ...ours, time: 0 }).toEqual({ ...pinos, time: 0 });
    expect(Object.keys(ours!)).toEqual(Object.keys(pinos!));
    expect(lines[0]!.endsWith('\n')).toBe(true);
  });

  it('escapes what a client controls (quotes, backslashes, control characters) and leaves out empty upstream fields', () => {
    const { lines, log } = capture();
    createAccessLog(log)({ ...fields, path: '/"x"\\\u0001\u00e9', upstream: '', server: '', cache: 'HIT' });
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line.path).toBe('/"x"\\\u0001\u00e9');
    expect(line).not.toHaveProperty('upstream');
    expect(line).not.toHaveProperty('server');
    expect(line.cache).toBe('HIT');
  });

  it('writes bytes as null when the connection is gone (NaN is not JSON), as pino did', () => {
    const { lines, log } = capture();
    createAccessLog(log)({ ...fields, bytes: Number.NaN });
    expect((JSON.parse(lines[0]!) as { bytes: unknown }).bytes).toBeNull();
  });

  it('is silent when the log level is above info', () => {
    const { lines, log } = capture('warn');
    createAccessLog(log)(fields);
    expect(lines).toEqual([]);
  });
});

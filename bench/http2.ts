/**
 * The `http2` scenario of `npm run bench`: HTTPS throughput with HTTP/2 and
 * with HTTP/1.1 through the same Portico, by h2load (Debian's nghttp2-client),
 * alternating so that drift hits both alike: the inference path (foo(3000),
 * the pool's limit) and cache hits (the proxy's own cost per request).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { benchConfig, startPortico } from './portico.js';
import type { ScenarioResult } from './report.js';
import { installed } from './tools.js';

interface H2loadFigures {
  rps: number;
  succeeded: number;
  failed: number;
}


async function h2load(url: string, protocol: 'h2' | 'h1', clients: number, seconds: number): Promise<H2loadFigures> {
  const args = ['-D', String(seconds), '--warm-up-time', '1', '-c', String(clients), '-t', '1', '-m', '1', ...(protocol === 'h1' ? ['--h1'] : []), url];
  const { stdout } = await promisify(execFile)('h2load', args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(stdout)?.[1] ?? NaN);
  const m = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(stdout);
  return { rps, succeeded: Number(m?.[1] ?? 0), failed: Number(m?.[2] ?? 0) };
}

export async function http2Scenario(seconds: number, rounds = 2): Promise<ScenarioResult> {
  if (!installed('h2load')) return { scenario: 'http2', description: 'skipped: needs h2load (apt-get install -y nghttp2-client)', rows: [], checks: [] };
  // /c/ is the same API behind the cache: the backends mark results cacheable.
  const yaml = `${benchConfig('policy: least-outstanding')}  - { name: cached, path: /c/, upstream: inference, replace_prefix: /api/, cache: true }\n`;
  const portico = await startPortico(yaml);
  const paths = { inference: '/api/foo?val=3000', 'cache hit': '/c/foo?val=1000' };
  const runs: Record<string, H2loadFigures[]> = {};
  try {
    for (let round = 0; round < rounds; round++) {
      for (const [name, path] of Object.entries(paths)) {
        for (const protocol of ['h2', 'h1'] as const) {
          const clients = name === 'inference' ? 4 : 50;
          (runs[`${name} ${protocol}`] ??= []).push(await h2load(`${portico.https!}${path}`, protocol, clients, name === 'inference' ? seconds : Math.min(seconds, 5)));
        }
      }
    }
  } finally {
    await portico.stop();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rows = Object.entries(runs).map(([key, figures]) => ({
    'path, protocol': key, 'req/s (mean)': mean(figures.map((f) => f.rps)), runs: figures.map((f) => f.rps.toFixed(1)).join(' '), failed: figures.reduce((n, f) => n + f.failed, 0),
  }));
  const ratio = (name: string) => mean(runs[`${name} h2`]!.map((f) => f.rps)) / mean(runs[`${name} h1`]!.map((f) => f.rps));
  return {
    scenario: 'http2',
    description: `h2load -t1 -m1 over TLS 1.3 to the same Portico (pool on every core): the inference path foo(3000) with 4 clients for ${seconds} s, cache hits with 50 clients for ${Math.min(seconds, 5)} s; HTTP/2 and HTTP/1.1 alternating, ${rounds} round${rounds > 1 ? 's' : ''}, means.`,
    rows,
    checks: [
      { what: 'inference: HTTP/2 / HTTP/1.1 throughput', target: '≥ 0.97', value: ratio('inference'), pass: ratio('inference') >= 0.97 },
      { what: 'cache hits: HTTP/2 / HTTP/1.1 throughput', target: 'report', value: ratio('cache hit'), pass: true },
    ],
  };
}

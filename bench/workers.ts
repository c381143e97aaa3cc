/**
 * `npm run bench:workers`: Portico as `npm start` runs it with `proxy.workers`
 * 1 and 2, for pass-through and cache hits, on both cores. wrk runs on the
 * same two cores (this machine has no third), so the figure is what two proxy
 * processes gain while they share the machine with the load generator — a
 * lower bound of what they gain on a machine with cores to spare. Rounds
 * alternate 1 and 2 workers; the check is the median of the per-round ratios.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startNginxServer } from './anchors.js';
import { median, pairedRatio, spread, table } from './report.js';
import { startShippedPortico } from './shipped-portico.js';
import { installed } from './tools.js';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.WORKERS_SECONDS ?? 5);
const CONNECTIONS = 64;

async function wrk(url: string, seconds: number): Promise<number> {
  const { stdout } = await promisify(execFile)('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, url], { encoding: 'utf8' });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  if (!rps) throw new Error(`wrk printed no rate:\n${stdout}`);
  if (/Non-2xx|Socket errors/.test(stdout)) process.stdout.write(`  (wrk reported errors: ${stdout.match(/(Non-2xx.*|Socket errors.*)/g)?.join('; ')})\n`);
  return Number(rps[1]);
}

async function main(): Promise<void> {
  for (const tool of ['wrk', 'nginx', 'taskset']) if (!installed(tool)) throw new Error(`bench:workers needs ${tool}`);
  // One origin for both paths: nginx answers at once, with a Cache-Control that lets Portico's cache keep it.
  const origin = await startNginxServer('location / { default_type application/json; add_header Cache-Control "public, max-age=3600"; return 200 \'{"val":1000,"result":4678901234.5678,"ms":9.3}\'; }');
  const scenarios = [
    { name: 'pass-through', path: '/bench/', cache: false },
    { name: 'cache hit', path: '/bench/', cache: true },
  ];
  const rows: Array<Record<string, string | number>> = [];
  try {
    for (const scenario of scenarios) {
      const runs: Record<1 | 2, number[]> = { 1: [], 2: [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const workers of round % 2 === 0 ? [1, 2] as const : [2, 1] as const) {
          const portico = await startShippedPortico({ path: scenario.path, origin: origin.url, cache: scenario.cache, accessLog: true, workers, cpus: '0,1' }, `${scenario.path}x`);
          try {
            const url = `${portico.url}${scenario.path}x`;
            await wrk(url, 1); // warm-up: the JIT, the upstream connections, the cache entry
            runs[workers].push(await wrk(url, SECONDS));
          } finally {
            await portico.stop();
          }
        }
      }
      const ratio = pairedRatio(runs[2], runs[1]);
      rows.push({ scenario: scenario.name, '1 worker req/s': Math.round(median(runs[1])), 'spread 1': spread(runs[1]), '2 workers req/s': Math.round(median(runs[2])), 'spread 2': spread(runs[2]), '2 ÷ 1 (median of rounds)': ratio.median.toFixed(2), 'range': `${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}` });
    }
  } finally {
    await origin.stop();
  }
  process.stdout.write(`proxy.workers 1 and 2, shipped config (access log on, to a file), GET through a pass-through route and a cached route to an nginx origin; Portico and wrk -t2 -c${CONNECTIONS} -d${SECONDS}s share both cores; ${ROUNDS} rounds alternating.\n\n${table(rows)}\n`);
}

await main();

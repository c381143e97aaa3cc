import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../lib/seeded-random.js';
import { runOpenLoad } from './load.js';

describe('runOpenLoad against a server that stalls one request', () => {
  let server: Server | undefined;
  /** When the server saw each request, and when it began holding /slow. */
  let seen: number[] = [];
  let slowAt = 0;
  afterEach(() => new Promise<void>((resolve) => { server?.closeAllConnections(); server?.close(() => resolve()); }));

  /** Answers at once, except /slow, held for `holdMs`. */
  async function start(holdMs: number): Promise<string> {
    seen = [];
    server = createServer((req, res) => {
      seen.push(performance.now());
      if (req.url === '/slow') {
        slowAt = performance.now();
        setTimeout(() => res.end('slow'), holdMs);
      } else {
        res.end('ok');
      }
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/`;
  }

  it('open loop: arrivals go on while a request is stalled, and the stall is counted from its arrival', async () => {
    const url = await start(600);
    let n = 0;
    const result = await runOpenLoad({ url, rate: 50, durationMs: 1000, warmupMs: 0, random: seededRandom(3), nextPath: () => (n++ === 0 ? '/slow' : '/') });
    const ok = result.latencies.get('200') ?? [];
    expect(ok.length).toBe(n); // every arrival answered and recorded, the stalled one included
    // ~30 expected at 50 a second: arrivals went on while /slow was held (a closed loop sends none).
    expect(seen.filter((t) => t > slowAt && t < slowAt + 550).length).toBeGreaterThan(10);
    expect(Math.max(...ok)).toBeGreaterThanOrEqual(590);
    expect(result.errors).toBe(0);
  });
});

import { createServer, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createTracingCounters, flushSpans, retireTracing, startTracing } from './tracer.js';

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function counted(registry: Registry, reason: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'portico_trace_spans_dropped_total');
  return (metric?.values ?? []).filter((v) => v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0);
}

describe('a tracer retired while the collector is down', () => {
  it('counts its last spans as failed exports, throws nothing, and drops (counted) spans that end after it stopped', async () => {
    const registry = new Registry();
    const tracing = startTracing({ otlp: `http://127.0.0.1:${await deadPort()}/v1/traces`, sample: 1 }, 'test', createTracingCounters(registry), { onHealth: () => {} });
    const late = tracing.tracer.startSpan('late');
    tracing.tracer.startSpan('one').end();
    // Before the fix, the shutdown's rejection went unhandled here (vitest fails the run on it; Node ended the proxy).
    retireTracing(tracing, 10);
    // The SDK's retries with backoff take up to about 10 s before the export fails (8.3 s measured).
    await expect.poll(() => counted(registry, 'export_failed'), { timeout: 25_000 }).toBeGreaterThanOrEqual(1);
    late.end();
    expect(await counted(registry, 'shutdown')).toBe(1);
  }, 30_000);

  it('flushSpans returns within its bound even when the export cannot finish', async () => {
    // Accepts connections and never answers.
    const held: Socket[] = [];
    const hung = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const tracing = startTracing({ otlp: `http://127.0.0.1:${(hung.address() as { port: number }).port}/v1/traces`, sample: 1 }, 'test', createTracingCounters(new Registry()), { onHealth: () => {} });
    tracing.tracer.startSpan('one').end();
    const started = performance.now();
    await flushSpans(tracing);
    expect(performance.now() - started).toBeLessThan(5000); // FLUSH_AT_EXIT_MS is 2 s; the export's own timeout is 10 s
    for (const socket of held) socket.destroy(); // the export thread would wait on it for its 10 s timeout
    hung.close();
  }, 15_000);
});

/**
 * The span export thread (lib/tracing/worker-exporter.ts), for real: spans
 * recorded by the SDK, encoded, sent from a worker thread over OTLP/HTTP to
 * a receiver that decodes them with the official definitions; a thread that
 * dies; and a process that must not be held open by an idle thread, nor end
 * before an export under way has finished.
 */
import { execFile } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Worker } from 'node:worker_threads';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkerSpanExporter } from '../lib/tracing/worker-exporter.js';
import { ROOT } from './helpers.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

function spans(...names: string[]): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const provider = new TracerProvider({
    sampler: new AlwaysOnSampler(), resource: resourceFromAttributes({ 'service.name': 'portico-test' }),
    spanProcessors: [{ onStart() {}, onEnd: (s: ReadableSpan) => void ended.push(s), forceFlush: async () => {}, shutdown: async () => {} }],
  });
  for (const name of names) provider.getTracer('portico').startSpan(name, { attributes: { 'portico.route': name } }).end();
  return ended;
}

const exported = (exporter: WorkerSpanExporter, batch: ReadableSpan[]) => new Promise<ExportResult>((resolve) => exporter.export(batch, resolve));

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver?.close());

describe('spans exported from a thread of their own', () => {
  it('reach the collector whole, with their service, attributes and ids', async () => {
    const exporter = new WorkerSpanExporter(receiver.url);
    const batch = spans('one', 'two');
    expect((await exported(exporter, batch)).code).toBe(ExportResultCode.SUCCESS);
    await exporter.shutdown();
    const got = receiver.spans.filter((s) => s.service === 'portico-test');
    expect(got.map((s) => [s.name, s.attributes['portico.route'], s.traceId, s.spanId])).toEqual(batch.map((s) => [s.name, s.name, s.spanContext().traceId, s.spanContext().spanId]));
  });

  it('fail at once when the thread dies, and the next export starts a new one', async () => {
    // The collector holds the first export unanswered; later ones it answers.
    const held: ServerResponse[] = [];
    const collector = createServer((req, res) => {
      req.resume();
      req.on('end', () => (held.length === 0 ? held.push(res) : res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()));
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const exporter = new WorkerSpanExporter(`http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`);
    try {
      const first = exported(exporter, spans('held'));
      await expect.poll(() => held.length, { timeout: 10_000 }).toBe(1);
      const started = performance.now();
      await (exporter as unknown as { worker: Worker }).worker.terminate();
      const result = await first;
      expect(result.code).toBe(ExportResultCode.FAILED);
      expect(result.error?.message).toMatch(/span export thread stopped/);
      expect(performance.now() - started).toBeLessThan(5000); // not the export's own 10 s timeout
      expect((await exported(exporter, spans('after'))).code).toBe(ExportResultCode.SUCCESS);
    } finally {
      await exporter.shutdown();
      collector.closeAllConnections();
      collector.close();
    }
  }, 20_000);

  it('fail at once, saying why, when the thread cannot start, and do not start it again', async () => {
    const exporter = new WorkerSpanExporter(receiver.url, join(ROOT, 'dist/lib/tracing/no-such-worker.js'));
    const first = await exported(exporter, spans('lost'));
    expect(first.code).toBe(ExportResultCode.FAILED);
    expect(first.error?.message).toMatch(/span export thread cannot start \(.*no-such-worker\.js\)/);
    let second: ExportResult | undefined;
    exporter.export(spans('lost too'), (result) => (second = result));
    expect(second?.error?.message).toBe(first.error?.message); // answered before export() returned: no thread tried
    await exporter.shutdown();
  });

  it('stop cleanly when never used, and refuse exports once stopped', async () => {
    const exporter = new WorkerSpanExporter(receiver.url);
    await exporter.shutdown();
    const result = await exported(exporter, spans('late'));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toMatch(/shut down/);
    expect(receiver.spans.some((s) => s.name === 'late')).toBe(false);
  });

  it('hold a process open while an export is under way, and not after', async () => {
    // A process whose only work is two exports, the second once the thread is up and idle: it
    // must print both results (the thread kept it alive for each) and then exit by itself (the
    // idle thread does not keep it; execFile's timeout would fail the test).
    const script = `
      import { TracerProvider, AlwaysOnSampler } from '@opentelemetry/sdk-trace';
      import { WorkerSpanExporter } from './dist/lib/tracing/worker-exporter.js';
      const exporter = new WorkerSpanExporter(${JSON.stringify(receiver.url)});
      const ended = [];
      const provider = new TracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [{ onStart() {}, onEnd: (s) => ended.push(s), forceFlush: async () => {}, shutdown: async () => {} }] });
      provider.getTracer('portico').startSpan('from-child').end();
      exporter.export(ended, (first) => {
        console.log('exported', first.code);
        setImmediate(() => exporter.export(ended, (second) => console.log('exported', second.code)));
      });
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeout: 15_000 });
    expect(stdout.trim().split('\n')).toEqual([`exported ${ExportResultCode.SUCCESS}`, `exported ${ExportResultCode.SUCCESS}`]);
    expect(receiver.spans.filter((s) => s.name === 'from-child')).toHaveLength(2);
  }, 20_000);
});

/**
 * A SpanExporter that encodes each batch (the SDK's OTLP protobuf serializer)
 * and hands the bytes to a worker thread, where the SDK's OTLP/HTTP exporter
 * sends them (export-worker.ts). Why: the exporter's HTTP client and its
 * response parsing run the same Node stream and http code as the request path,
 * and every export deoptimised that code (V8 traces showed `wrong map` deopts
 * of write_, _send, writeOrBuffer, Readable.on after each export). At
 * `sample: 0.01`, the proxy then spent 4.7 µs per request in the optimising
 * compiler, and a pass-through request cost 1.13 × the CPU it cost with the
 * same spans recorded and never exported (perf, paired, issue 24). Encoding
 * stays here: carrying the spans' objects to the thread cost more than
 * encoding them (docs/decisions.md).
 *
 * The thread starts with the first export, holds the process open only while
 * an export is under way, and is started again if it dies (the batches it held
 * fail, and are counted so by the caller). A thread that cannot start at all
 * (its script missing: run from source without `npm run build`) is not tried
 * again: every export then fails at once, saying why.
 */
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { PROJECT_ROOT } from '../paths.js';

/** A batch as OTLP protobuf bytes (ExportTraceServiceRequest), and how many spans it holds. */
export interface EncodedBatch {
  bytes: Uint8Array;
  spans: number;
}

export type ToWorker = { type: 'export'; id: number; batch: EncodedBatch } | { type: 'flush' | 'shutdown'; id: number };
export type FromWorker = { type: 'exported'; id: number; code: ExportResultCode; error?: string } | { type: 'done'; id: number };
type Answer = FromWorker | { type: 'failed'; error: string };
/** The thread's first message, once its modules have loaded. */
export const READY = 'ready';

/** The worker's script: beside this file in dist/, or dist's when this runs from source (tests). */
const WORKER_SCRIPT = import.meta.url.endsWith('.ts') ? resolve(PROJECT_ROOT, 'dist/lib/tracing/export-worker.js') : fileURLToPath(new URL('./export-worker.js', import.meta.url));

export class WorkerSpanExporter implements SpanExporter {
  private worker: Worker | undefined;
  private nextId = 0;
  /** What each message sent waits for, and the thread it went to. */
  private readonly waiting = new Map<number, { worker: Worker; answer: (message: Answer) => void }>();
  private stopped = false;
  /** Why the thread could not start, when it could not: not tried again. */
  private cannotStart: string | undefined;

  /**
   * `url`: the OTLP/HTTP traces URL; the exporter's default (from OTEL_EXPORTER_OTLP_*) when undefined.
   * `script`: the thread's script (another only in tests).
   */
  constructor(private readonly url: string | undefined, private readonly script = WORKER_SCRIPT) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    if (this.stopped) return done({ code: ExportResultCode.FAILED, error: new Error('the exporter was shut down') });
    if (this.cannotStart !== undefined) return done({ code: ExportResultCode.FAILED, error: new Error(this.cannotStart) });
    const bytes = ProtobufTraceSerializer.serializeRequest(spans);
    if (bytes === undefined) return done({ code: ExportResultCode.FAILED, error: new Error('the spans could not be encoded') });
    this.send({ type: 'export', id: this.nextId++, batch: { bytes, spans: spans.length } }, (answer) => {
      if (answer.type === 'exported' && answer.code === ExportResultCode.SUCCESS) done({ code: ExportResultCode.SUCCESS });
      else done({ code: ExportResultCode.FAILED, error: new Error('error' in answer && answer.error ? answer.error : 'the export failed') });
    });
  }

  forceFlush(): Promise<void> {
    return this.worker === undefined ? Promise.resolve() : new Promise((settle) => this.send({ type: 'flush', id: this.nextId++ }, () => settle()));
  }

  /** Exports what the worker holds, then stops it. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    const worker = this.worker;
    if (worker === undefined) return;
    await new Promise<void>((settle) => this.send({ type: 'shutdown', id: this.nextId++ }, () => settle()));
    this.worker = undefined;
    await worker.terminate();
  }

  private send(message: ToWorker, answer: (message: Answer) => void): void {
    const worker = (this.worker ??= this.start());
    worker.ref(); // an export under way keeps the process, as its HTTP request did in-process
    this.waiting.set(message.id, { worker, answer });
    worker.postMessage(message);
  }

  private start(): Worker {
    const worker = new Worker(this.script, { workerData: { url: this.url }, execArgv: threadExecArgv(process.execArgv) });
    let ready = false;
    worker.unref();
    worker.on('message', (message: FromWorker | typeof READY) => (message === READY ? (ready = true) : this.settle(message.id, message)));
    // A message that cannot be read leaves its export unanswered: the thread is replaced, failing what it held.
    worker.on('messageerror', () => void worker.terminate());
    worker.on('error', (err) => {
      if (!ready) this.cannotStart = `the span export thread cannot start (${this.script}): ${err.message}`;
      this.stop(worker, this.cannotStart ?? `the span export thread failed: ${err.message}`);
    });
    worker.on('exit', (code) => this.stop(worker, `the span export thread stopped (exit code ${code})`));
    return worker;
  }

  private settle(id: number, message: Answer): void {
    const waiting = this.waiting.get(id);
    if (waiting === undefined) return;
    this.waiting.delete(id);
    if (![...this.waiting.values()].some((w) => w.worker === waiting.worker)) waiting.worker.unref();
    waiting.answer(message);
  }

  /** Fails what `worker` held; the next export starts a new one. */
  private stop(worker: Worker, error: string): void {
    if (this.worker === worker) this.worker = undefined;
    for (const [id, waiting] of [...this.waiting]) if (waiting.worker === worker) this.settle(id, { type: 'failed', error });
  }
}

/**
 * The process's flags for the thread, minus those that belong to its main script's input
 * (`-e`/`-p` and their code, `--input-type`): given to a worker, they stop it from starting.
 */
export function threadExecArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!;
    if (['-e', '--eval', '-p', '--print', '--input-type'].includes(flag)) i++; // and its value
    else if (!/^--(eval|print|input-type)=/.test(flag)) kept.push(flag);
  }
  return kept;
}

/**
 * An OTLP/HTTP trace receiver for tests: it decodes each export with the
 * protobufjs code the OpenTelemetry JS project generated from the official
 * opentelemetry-proto definitions (otlp-proto-definitions = otlp-transformer
 * 0.215), not with a parser of ours, and keeps the spans as plain records.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

interface AnyValue { stringValue?: string; boolValue?: boolean; intValue?: { toString(): string } | number; doubleValue?: number }
interface KeyValue { key: string; value?: AnyValue }
interface DecodedSpan {
  traceId: Uint8Array; spanId: Uint8Array; parentSpanId?: Uint8Array; name: string; kind: number;
  startTimeUnixNano: { toString(): string } | number; endTimeUnixNano: { toString(): string } | number;
  attributes?: KeyValue[]; status?: { code?: number; message?: string }; events?: Array<{ name: string }>;
}
interface DecodedRequest { resourceSpans?: Array<{ resource?: { attributes?: KeyValue[] }; scopeSpans?: Array<{ spans?: DecodedSpan[] }> }> }
interface Codec<T> { decode(bytes: Uint8Array): T; encode(message: object): { finish(): Uint8Array } }

const require = createRequire(import.meta.url);
const proto = (require('otlp-proto-definitions/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: Codec<DecodedRequest>; ExportTraceServiceResponse: Codec<object> } } } } };
}).opentelemetry.proto.collector.trace.v1;

/** SpanKind in opentelemetry-proto's trace.proto. */
export const KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;
/** Status.StatusCode in trace.proto. */
export const STATUS = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export interface ReceivedSpan {
  service: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, string | number | boolean>;
  status: number;
  events: string[];
}

export interface OtlpReceiver {
  /** The traces URL to give the exporter. */
  url: string;
  spans: ReceivedSpan[];
  /** Export requests received, by content type. */
  requests: string[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = req.headers['content-type'] ?? '';
      requests.push(type);
      if (req.url !== '/v1/traces' || req.method !== 'POST' || type !== 'application/x-protobuf') {
        res.writeHead(415).end();
        return;
      }
      spans.push(...flatten(proto.ExportTraceServiceRequest.decode(Buffer.concat(chunks))));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(proto.ExportTraceServiceResponse.encode({}).finish()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    spans,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function flatten(request: DecodedRequest): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((rs) => {
    const service = String(valueOf(rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value) ?? '');
    return (rs.scopeSpans ?? []).flatMap((ss) => (ss.spans ?? []).map((s): ReceivedSpan => ({
      service,
      name: s.name,
      kind: s.kind,
      traceId: hex(s.traceId),
      spanId: hex(s.spanId),
      parentSpanId: s.parentSpanId && s.parentSpanId.length > 0 ? hex(s.parentSpanId) : '',
      startNs: BigInt(s.startTimeUnixNano.toString()),
      endNs: BigInt(s.endTimeUnixNano.toString()),
      attributes: Object.fromEntries((s.attributes ?? []).map((a) => [a.key, valueOf(a.value)!])),
      status: s.status?.code ?? 0,
      events: (s.events ?? []).map((e) => e.name),
    })));
  });
}

/** The one field of the AnyValue oneof that is set (protobufjs names it in the oneof's getter, `value`). */
function valueOf(value: AnyValue | undefined): string | number | boolean | undefined {
  const field = (value as { value?: keyof AnyValue } | undefined)?.value;
  if (!value || !field) return undefined;
  const v = value[field];
  return typeof v === 'object' && v !== null ? Number(v.toString()) : (v as string | number | boolean);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** The spans of one trace as an indented tree (children in start order), for notes and failure messages. */
export function traceTree(spans: ReceivedSpan[], traceId: string): string {
  const mine = spans.filter((s) => s.traceId === traceId).sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
  const ids = new Set(mine.map((s) => s.spanId));
  const t0 = mine.reduce((min, s) => (s.startNs < min ? s.startNs : min), mine[0]?.startNs ?? 0n);
  const lines: string[] = [];
  const walk = (span: ReceivedSpan, depth: number) => {
    const ms = (ns: bigint) => (Number(ns) / 1e6).toFixed(1);
    const attrs = ['http.response.status_code', 'portico.server', 'http.request.resend_count', 'error.type', 'portico.given_back', 'portico.val']
      .filter((k) => span.attributes[k] !== undefined).map((k) => `${k}=${span.attributes[k]}`).join(' ');
    lines.push(`${'  '.repeat(depth)}${span.service}: ${span.name} [${['', 'internal', 'server', 'client'][span.kind] ?? span.kind}] +${ms(span.startNs - t0)} ms, ${ms(span.endNs - span.startNs)} ms${attrs ? ` (${attrs})` : ''}${span.status === STATUS.ERROR ? ' ERROR' : ''}`);
    for (const child of mine.filter((c) => c.parentSpanId === span.spanId)) walk(child, depth + 1);
  };
  for (const root of mine.filter((s) => !ids.has(s.parentSpanId))) walk(root, 0);
  return lines.join('\n');
}

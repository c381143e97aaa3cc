/**
 * The span export worker (worker-exporter.ts starts it): the SDK's OTLP/HTTP
 * exporter (its configuration from OTEL_EXPORTER_OTLP_*, its concurrency
 * bound, retries, timeout and compression) sending batches that the request
 * thread encoded already, so its serializer here passes the bytes through.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { ProtobufTraceSerializer, type IExportTraceServiceResponse, type ISerializer } from '@opentelemetry/otlp-transformer';
import { READY, type EncodedBatch, type FromWorker, type ToWorker } from './worker-exporter.js';

const encoded: ISerializer<EncodedBatch, IExportTraceServiceResponse> = {
  serializeRequest: (batch) => batch.bytes,
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};
const url = (workerData as { url?: string }).url;
// As the SDK's OTLPTraceExporter (exporter-trace-otlp-proto) builds itself, with the pass-through serializer.
const exporter = new OTLPExporterBase(createOtlpHttpExportDelegate(
  convertLegacyHttpOptions(url === undefined ? {} : { url }, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }),
  encoded, 'otlp_http_span_exporter', { name: 'span', countItems: (batch) => batch.spans }, undefined,
));

const port = parentPort!;
const reply = (message: FromWorker) => port.postMessage(message);

port.on('message', (message: ToWorker) => {
  if (message.type === 'export') {
    exporter.export(message.batch, (result) => reply({ type: 'exported', id: message.id, code: result.code, ...(result.error && { error: result.error.message }) }));
  } else {
    const done = message.type === 'flush' ? exporter.forceFlush() : exporter.shutdown();
    done.catch(() => {}).finally(() => reply({ type: 'done', id: message.id }));
  }
});
port.postMessage(READY);

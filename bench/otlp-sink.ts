/** An OTLP/HTTP endpoint that takes every export and answers 200 at once: the collector is not what a bench measures. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let url: Promise<string> | undefined;

/** The sink's traces URL (started on first use, in this process; it never keeps the process alive). */
export function otlpSink(): Promise<string> {
  url ??= new Promise((resolve) => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end());
    });
    server.listen(0, '127.0.0.1', () => {
      server.unref();
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`);
    });
  });
  return url;
}

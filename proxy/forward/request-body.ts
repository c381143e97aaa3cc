/**
 * A request body as the proxy forwards it: small bodies of known length are
 * buffered (so a refused connection can be retried elsewhere); others stream
 * through a counter that stops them at the route's `limits.max_body`.
 */
import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';

/** Bodies up to this size are buffered so that a refused connection can be retried elsewhere. */
export const REPLAYABLE_BODY_BYTES = 64 * 1024;

export type RequestBody =
  | { kind: 'none' }
  | { kind: 'buffered'; bytes: Buffer }
  | { kind: 'streamed'; stream: Transform; tooLarge: () => boolean }
  | { kind: 'too-large' };

/** The declared body is over the limit: answer 413 without reading it. */
export function declaredTooLarge(req: IncomingMessage, maxBody: number): boolean {
  const length = req.headers['content-length'];
  return length !== undefined && Number(length) > maxBody;
}

export const NO_BODY: RequestBody = { kind: 'none' };

/** Whether a body follows the headers (else `readBody` would give NO_BODY: asked first, the request path skips a promise). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined) return true;
  // HTTP/2 frames the body itself: without Content-Length, a body follows unless the headers ended the stream.
  if (req.httpVersionMajor === 2 && length === undefined) return (req as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders !== true;
  return length !== undefined && length !== '0';
}

/**
 * Reads or wraps the body of `req`. Rejects when the client goes away mid-body.
 * @example const body = await readBody(req, 1024 * 1024); if (body.kind === 'too-large') ...413
 */
export async function readBody(req: IncomingMessage, maxBody: number): Promise<RequestBody> {
  if (!hasBody(req)) return NO_BODY;
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && length !== undefined && Number(length) <= REPLAYABLE_BODY_BYTES) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return { kind: 'buffered', bytes: Buffer.concat(chunks) };
  }
  let seen = 0;
  let exceeded = false;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBody) {
        exceeded = true;
        done(new Error(`request body over ${maxBody} bytes`));
        return;
      }
      done(null, chunk);
    },
  });
  req.pipe(stream);
  req.once('error', (err) => stream.destroy(err));
  return { kind: 'streamed', stream, tooLarge: () => exceeded };
}

/**
 * The size of an HTTP/2 response for the access log. An HTTP/1.x response's
 * size is its connection's growth in bytesWritten, but an HTTP/2 stream shares
 * its connection with others and keeps no count of its own, so its body is
 * counted as it is written (header frames are compressed per connection and
 * not counted: nginx's $body_bytes_sent).
 */
import type { ServerResponse } from 'node:http';

export interface BodyCount {
  bytes: number;
}

type Chunk = string | Uint8Array | ((err?: Error | null) => void) | undefined;

function sizeOf(chunk: Chunk, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return chunk instanceof Uint8Array ? chunk.byteLength : 0;
}

/** Counts what `res.write` and `res.end` are given from now on. */
export function countBody(res: ServerResponse): BodyCount {
  const count: BodyCount = { bytes: 0 };
  const write = res.write;
  const end = res.end;
  res.write = function countedWrite(this: ServerResponse, chunk: Chunk, ...rest: unknown[]) {
    count.bytes += sizeOf(chunk, rest[0]);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  res.end = function countedEnd(this: ServerResponse, chunk?: Chunk, ...rest: unknown[]) {
    if (!res.writableEnded) count.bytes += sizeOf(chunk, rest[0]);
    return (end as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as typeof res.end;
  return count;
}

/**
 * HTTP-01 (RFC 8555 §8.3): GET /.well-known/acme-challenge/<token> on the HTTP
 * listener answers the key authorization the ordering proxy stored. It comes
 * before routes, `redirect_http` and limits, and reads the store, so whichever
 * proxy process (or replica on the shared volume) the CA reaches can answer.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

export const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
/** Tokens are base64url (RFC 8555 §8.1); anything else never names a stored file. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/** Answers the challenge request from `dir` (the store's challenges). */
export async function answerChallenge(req: IncomingMessage, res: ServerResponse, dir: string): Promise<void> {
  const token = (req.url ?? '').slice(CHALLENGE_PREFIX.length).split('?', 1)[0]!;
  let body: string | undefined;
  if (TOKEN.test(token) && (req.method === 'GET' || req.method === 'HEAD')) body = await readFile(join(dir, token), 'utf8').catch(() => undefined);
  if (body === undefined) {
    res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': 22 }).end('no such ACME challenge');
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': Buffer.byteLength(body) }).end(req.method === 'HEAD' ? undefined : body);
}

/** The one place the proxy turns its own errors into problem+json responses. */
import type { ServerResponse } from 'node:http';
import { problem, PROBLEM_CONTENT_TYPE } from '../../lib/problem.js';

/** Writes a problem+json answer; the one place the proxy turns its own errors into responses. */
export function sendProblem(res: ServerResponse, status: number, detail: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(problem(status, detail));
  res.writeHead(status, { ...headers, 'Content-Type': PROBLEM_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

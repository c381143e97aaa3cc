/**
 * RFC 9457 problem details: every error Portico answers itself (400, 413, 415,
 * 502, 503, 504 ...) carries `application/problem+json` saying what to fix.
 */
import { STATUS_CODES } from 'node:http';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

/**
 * Builds a problem body; `title` is the status phrase unless given.
 * @example problem(400, 'val must be an integer from 0 to 100000', { min: 0, max: 100000 })
 */
export function problem(status: number, detail: string, extensions: Record<string, unknown> = {}): Problem {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, ...extensions };
}

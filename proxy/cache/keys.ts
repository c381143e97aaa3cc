/**
 * Cache keys (RFC 9111 §2, §4.1): the primary key is the request's host and
 * target; the secondary key is the request's values of the fields the stored
 * response's Vary names, normalised so that trivial differences (spacing,
 * repeated lines, case of codings) do not split the cache.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** Fields whose values are case-insensitive tokens, lower-cased before comparing. */
const CASE_INSENSITIVE = new Set(['accept-encoding', 'accept-charset', 'accept', 'te']);
/** Stands for "field absent", which differs from an empty value. */
const ABSENT = '\u0000';

/**
 * The primary key: host and target. The scheme is not part of it, so that a
 * POST over HTTPS invalidates what HTTP stored for the same URL too.
 * @example primaryKey('Example.com:8080', '/api/foo?val=1') // "example.com:8080 /api/foo?val=1"
 */
export function primaryKey(host: string | undefined, target: string): string {
  return `${(host ?? '').toLowerCase()} ${target}`;
}

/** The key of an opt-in cached POST: the URL plus a hash of the normalised body. */
export function postKey(host: string | undefined, target: string, contentType: string | undefined, body: Buffer): string {
  return `${primaryKey(host, target)} POST ${bodyHash(contentType, body)}`;
}

/** The field names a Vary value lists, lower-cased. */
export function varyFields(vary: string | string[] | undefined): string[] {
  if (vary === undefined) return [];
  const text = Array.isArray(vary) ? vary.join(',') : vary;
  return text.split(',').map((f) => f.trim().toLowerCase()).filter((f) => f !== '');
}

/**
 * The secondary key of a request for a response that varies on `fields`.
 * @example secondaryKey(['accept-encoding'], { 'accept-encoding': 'GZIP,  br' }) // "accept-encoding:gzip,br"
 */
export function secondaryKey(fields: readonly string[], headers: IncomingHttpHeaders): string {
  return fields.map((field) => `${field}:${normalise(field, headers[field])}`).join('\n');
}

function normalise(field: string, value: string | string[] | undefined): string {
  if (value === undefined) return ABSENT;
  const joined = (Array.isArray(value) ? value.join(',') : value).split(',').map((v) => v.trim()).filter((v) => v !== '').join(',');
  return CASE_INSENSITIVE.has(field) ? joined.toLowerCase() : joined;
}

/**
 * A hash of a request body in a canonical form: JSON (by media type) parsed
 * and written again with sorted keys, so `{"val": 1}` and `{ "val":1 }` share an
 * entry; other bodies byte for byte. The media type is part of the hash.
 */
export function bodyHash(contentType: string | undefined, body: Buffer): string {
  const type = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  let canonical: string | Buffer = body;
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      canonical = stableJson(JSON.parse(body.toString('utf8')));
    } catch {
      // Not JSON after all: the origin will say so; hash the bytes.
    }
  }
  return createHash('sha256').update(type).update('\n').update(canonical).digest('base64url');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

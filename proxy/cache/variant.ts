/**
 * Stored responses (variants) as RFC 9111 defines them: made from an origin's
 * answer, or refreshed by a 304 (§3.2, §4.3.4). Pure: the clock comes in as
 * request and response times.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { mergeNotModified } from './conditional.js';
import { parseCacheControl } from './directives.js';
import { freshnessLifetime, initialAge } from './freshness.js';
import { secondaryKey, varyFields } from './keys.js';
import { bodyText, rawHeaders, variantSize, type Variant } from './store.js';

/** A variant for a response to a request with `requestHeaders` (its Vary fields pick the secondary key). */
export function makeVariant(requestHeaders: IncomingHttpHeaders, status: number, headers: Record<string, string | string[]>, body: Buffer, requestTime: number, responseTime: number): Variant {
  const cc = parseCacheControl(headers['cache-control']);
  const vary = varyFields(headers.vary);
  const text = bodyText(body);
  return {
    status, headers, body, requestTime, responseTime, cc, lifetime: freshnessLifetime(status, headers, responseTime, cc),
    initialAge: initialAge({ headers, requestTime, responseTime }), raw: rawHeaders(headers), text,
    vary, secondary: secondaryKey(vary, requestHeaders), size: variantSize(headers, body, text),
  };
}

/** `stored` updated by a 304: its headers merged in, new clocks, the same body. */
export function refreshVariant(stored: Variant, update: Record<string, string | string[]>, requestTime: number, responseTime: number): Variant {
  const headers = mergeNotModified(stored.headers, update);
  if (update.date === undefined) headers.date = new Date(responseTime).toUTCString();
  const cc = parseCacheControl(headers['cache-control']);
  const timing = { headers, requestTime, responseTime };
  return {
    ...stored, ...timing, cc, initialAge: initialAge(timing), raw: rawHeaders(headers),
    lifetime: freshnessLifetime(stored.status, headers, responseTime, cc), size: variantSize(headers, stored.body, stored.text),
  };
}

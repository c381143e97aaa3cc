/**
 * The shared response cache of a route (RFC 9111, RFC 5861): answers from the
 * store when it may, validates with the origin when it must, stores what it
 * may while streaming it to the client, coalesces concurrent misses into one
 * upstream request (nginx's proxy_cache_lock), and invalidates on unsafe
 * methods. What it does not understand passes through untouched.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { finished } from 'node:stream';
import type { UpstreamResponse } from '../forward/forward.js';
import { deliver, type FetchUpstream } from '../forward/fetched.js';
import { parseRange } from '../request/range.js';
import type { RequestBody } from '../forward/request-body.js';
import { sendProblem } from '../request/respond.js';
import { clientHasCurrentCopy, mergeNotModified, notModifiedHeaders, notModifiedSelects, validatorsOf } from './conditional.js';
import { parseCacheControl, type Directives } from './directives.js';
import { currentAge, first, freshnessLifetime, initialAge, judge, notStorableReason, staleIfErrorAllowed } from './freshness.js';
import { postKey, primaryKey, secondaryKey, varyFields } from './keys.js';
import { rawHeaders, ResponseStore, variantSize, type StoreLimits, type Variant } from './store.js';

export type CacheStatus = 'HIT' | 'MISS' | 'STALE' | 'REVALIDATED' | 'BYPASS';

/** Methods that never change state (RFC 9110 §9.2.1): everything else invalidates. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
/** Answers that let stale-if-error serve a stored response (RFC 5861 §4). */
const ERROR_STATUSES = new Set([500, 502, 503, 504]);
/** The client's validators: dropped when we fetch to store, and evaluated by us against what we store. */
const CLIENT_CONDITIONALS = ['if-none-match', 'if-modified-since'];

export interface CacheRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** Opt-in: POST is a pure lookup, keyed on its normalised body. */
  post: boolean;
  body: RequestBody;
  /** Sends to the route's upstream for this client (aborted when it leaves). */
  fetch: FetchUpstream;
  /** Sends to the route's upstream for nobody in particular (background revalidation). */
  background: FetchUpstream;
}

export interface CacheEvents {
  /** A request that waited for another's fetch and was answered by it. */
  onCoalesced(): void;
  onBackgroundError(error: Error): void;
  /** Variants pushed out of the store to make room. */
  onEvict(variants: number): void;
}

export interface CacheOptions extends StoreLimits {
  /** How long a miss waits for a concurrent fetch of the same key before going upstream itself. */
  lockTimeoutMs: number;
}

interface Lookup {
  req: IncomingMessage;
  key: string;
  host: string;
  target: string;
  requestCc: Directives;
}

export class HttpCache {
  readonly store: ResponseStore;
  private readonly locks = new Map<string, Promise<void>>();

  constructor(readonly options: CacheOptions, private readonly events: CacheEvents, private readonly now: () => number = Date.now) {
    this.store = new ResponseStore(options, (n) => events.onEvict(n));
  }

  /** Answers `c` from the cache or through it; resolves to what the cache did (X-Cache). */
  async handle(c: CacheRequest): Promise<CacheStatus> {
    const { req, res } = c;
    const method = req.method ?? 'GET';
    const host = req.headers.host ?? '';
    const target = req.url ?? '/';
    let key: string | undefined;
    if (method === 'GET' || method === 'HEAD') key = primaryKey(host, target);
    else if (method === 'POST' && c.post && c.body.kind !== 'streamed') {
      key = postKey(host, target, req.headers['content-type'], c.body.kind === 'buffered' ? c.body.bytes : Buffer.alloc(0));
    }
    if (key === undefined) return this.passThrough(c, 'BYPASS', !SAFE_METHODS.has(method) && !(method === 'POST' && c.post));

    const l: Lookup = { req, key, host, target, requestCc: parseCacheControl(req.headers['cache-control']) };
    const onlyIfCached = l.requestCc.values.has('only-if-cached');
    let stored = this.store.get(key, req.headers);
    let verdict = stored && this.judge(stored, l);
    if ((!stored || verdict === 'validate') && !onlyIfCached && this.locks.has(key)) {
      await this.waitFor(key);
      stored = this.store.get(key, req.headers);
      verdict = stored && this.judge(stored, l);
      if (verdict === 'fresh') this.events.onCoalesced();
    }
    if (stored && verdict === 'fresh') return this.serve(c, stored, 'HIT');
    if (stored && verdict === 'stale-allowed') return this.serve(c, stored, 'STALE');
    if (stored && verdict === 'stale-while-revalidate') {
      this.revalidateInBackground(c, l, stored);
      return this.serve(c, stored, 'STALE');
    }
    if (onlyIfCached) {
      sendProblem(res, 504, 'the request said only-if-cached and no stored response can answer it', { 'x-cache': 'MISS' });
      return 'MISS';
    }
    // A HEAD or a range we hold nothing for goes to the origin as it is, and is not stored.
    if (!stored && (method === 'HEAD' || req.headers.range !== undefined)) return this.passThrough(c, 'MISS', false);
    return this.fetchAndStore(c, l, stored);
  }

  /**
   * The common case, synchronously and without allocating much: a plain
   * GET/HEAD (no Cache-Control, Pragma, Range or validators of its own) for
   * which a fresh response is stored. Writes it and says HIT, or says
   * undefined and writes nothing (then `handle` decides).
   * `requestId` goes in the same writeHead (Node's fast path takes one header list).
   */
  serveFresh(req: IncomingMessage, res: ServerResponse, requestId: string): CacheStatus | undefined {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    const h = req.headers;
    if (h['cache-control'] !== undefined || h.pragma !== undefined || h.range !== undefined || h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined) return undefined;
    const stored = this.store.get(primaryKey(h.host, req.url ?? '/'), h);
    if (stored === undefined || stored.status === 204 || stored.cc.values.has('no-cache')) return undefined;
    const age = currentAge(stored, this.now());
    if (age >= stored.lifetime) return undefined;
    res.writeHead(stored.status, [...stored.raw, 'x-request-id', requestId, 'age', String(Math.floor(age)), 'x-cache', 'HIT', 'content-length', String(stored.body.length)]);
    res.end(method === 'HEAD' ? undefined : stored.body);
    return 'HIT';
  }

  /** Drops stored responses by exact target or prefix (optionally one host). */
  purge(match: { target?: string; prefix?: string; host?: string }): number {
    return this.store.purge(match);
  }

  private judge(stored: Variant, l: Lookup) {
    const pragma = first(l.req.headers.pragma) ?? '';
    return judge(stored, l.requestCc, /(^|,)\s*no-cache\s*(,|$)/i.test(pragma), this.now());
  }

  /** Sends to the origin: the client's validators replaced by ours, so that what comes back can be stored. */
  private async fetchAndStore(c: CacheRequest, l: Lookup, stored: Variant | undefined): Promise<CacheStatus> {
    const { req, res } = c;
    const unlock = this.lock(l.key);
    const requestTime = this.now();
    const fetched = await c.fetch({ method: req.method === 'HEAD' ? 'GET' : req.method!, path: l.target, headers: this.outgoingHeaders(req, l, stored) });
    const responseTime = this.now();
    if (fetched.kind !== 'response') {
      unlock();
      if (fetched.kind === 'problem' && stored && ERROR_STATUSES.has(fetched.status) && staleIfErrorAllowed(stored, l.requestCc, responseTime)) {
        return this.serve(c, stored, 'STALE');
      }
      deliver(fetched, res, { 'x-cache': 'MISS' });
      return 'MISS';
    }
    const r = fetched.response;
    if (stored && r.status === 304 && notModifiedSelects(stored, r.headers)) {
      r.body.resume();
      const updated = this.refreshed(stored, r.headers, requestTime, responseTime);
      this.store.replace(l.key, stored, updated);
      unlock();
      return this.serve(c, updated, 'REVALIDATED');
    }
    if (stored && ERROR_STATUSES.has(r.status) && staleIfErrorAllowed(stored, l.requestCc, responseTime)) {
      r.body.resume();
      unlock();
      return this.serve(c, stored, 'STALE');
    }
    const reason = this.whyNotStore(c, l, r, responseTime);
    if (reason !== undefined) {
      if (stored && r.status < 400) this.store.remove(l.key, stored); // a newer representation replaced it
      unlock();
      deliver(fetched, res, { 'x-cache': 'MISS' });
      return 'MISS';
    }
    this.keepCopy(l, r, requestTime, responseTime, unlock);
    deliver(fetched, res, { 'x-cache': 'MISS' });
    return 'MISS';
  }

  /** Serves a stale response at once and asks the origin in the background, once per key at a time (RFC 5861 §3). */
  private revalidateInBackground(c: CacheRequest, l: Lookup, stored: Variant): void {
    if (this.locks.has(l.key)) return;
    const unlock = this.lock(l.key);
    const requestTime = this.now();
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method!;
    c.background({ method, path: l.target, headers: this.outgoingHeaders(c.req, l, stored) }).then((fetched) => {
      if (fetched.kind !== 'response') return unlock();
      const r = fetched.response;
      const responseTime = this.now();
      if (r.status === 304 && notModifiedSelects(stored, r.headers)) {
        r.body.resume();
        this.store.replace(l.key, stored, this.refreshed(stored, r.headers, requestTime, responseTime));
        return unlock();
      }
      if (ERROR_STATUSES.has(r.status) || this.whyNotStore(c, l, r, responseTime) !== undefined) {
        r.body.resume();
        if (r.status < 400) this.store.remove(l.key, stored);
        return unlock();
      }
      this.keepCopy(l, r, requestTime, responseTime, unlock);
      r.body.resume();
    }, (err: Error) => {
      unlock();
      this.events.onBackgroundError(err);
    });
  }

  /** Whether a response may be stored for this request, as a reason when not. */
  private whyNotStore(c: CacheRequest, l: Lookup, r: UpstreamResponse, responseTime: number): string | undefined {
    const declared = Number(first(r.headers['content-length']));
    if (declared > this.options.maxObjectBytes) return 'larger than max_object_bytes';
    const reason = notStorableReason({ status: r.status, headers: r.headers, requestCc: l.requestCc, authorized: c.req.headers.authorization !== undefined }, responseTime);
    if (reason !== undefined) return reason;
    // A POST's response is reused only when its origin said for how long (RFC 9110 §9.3.3).
    const cc = parseCacheControl(r.headers['cache-control']);
    if (c.req.method === 'POST' && !cc.values.has('max-age') && !cc.values.has('s-maxage') && r.headers.expires === undefined) return 'POST without explicit freshness';
    return undefined;
  }

  /** Collects the body as it streams past; stores it when it arrived whole and within the object limit. */
  private keepCopy(l: Lookup, r: UpstreamResponse, requestTime: number, responseTime: number, unlock: () => void): void {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let tooLarge = false;
    r.body.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      bytes += chunk.length;
      if (bytes > this.options.maxObjectBytes) {
        tooLarge = true;
        chunks.length = 0;
      } else chunks.push(chunk);
    });
    finished(r.body, (err) => {
      const declared = first(r.headers['content-length']);
      if (!err && !tooLarge && (declared === undefined || Number(declared) === bytes)) {
        const headers = { ...r.headers };
        headers.date ??= new Date(responseTime).toUTCString();
        this.store.put(l.key, l.host.toLowerCase(), l.target, this.variant(l.req, r.status, headers, Buffer.concat(chunks), requestTime, responseTime));
      }
      unlock();
    });
  }

  /** `stored` updated by a 304 (RFC 9111 §3.2, §4.3.4): new headers, new clocks, same body. */
  private refreshed(stored: Variant, update: Record<string, string | string[]>, requestTime: number, responseTime: number): Variant {
    const headers = mergeNotModified(stored.headers, update);
    if (update.date === undefined) headers.date = new Date(responseTime).toUTCString();
    const cc = parseCacheControl(headers['cache-control']);
    const timing = { headers, requestTime, responseTime };
    return {
      ...stored, ...timing, cc, initialAge: initialAge(timing), raw: rawHeaders(headers),
      lifetime: freshnessLifetime(stored.status, headers, responseTime, cc), size: variantSize(headers, stored.body),
    };
  }

  private variant(req: IncomingMessage, status: number, headers: Record<string, string | string[]>, body: Buffer, requestTime: number, responseTime: number): Variant {
    const cc = parseCacheControl(headers['cache-control']);
    const vary = varyFields(headers.vary);
    return {
      status, headers, body, requestTime, responseTime, cc, lifetime: freshnessLifetime(status, headers, responseTime, cc),
      initialAge: initialAge({ headers, requestTime, responseTime }), raw: rawHeaders(headers),
      vary, secondary: secondaryKey(vary, req.headers), size: variantSize(headers, body),
    };
  }

  private outgoingHeaders(req: IncomingMessage, l: Lookup, stored: Variant | undefined): IncomingMessage['headers'] {
    const headers = { ...req.headers };
    if (!l.requestCc.values.has('no-store')) for (const name of CLIENT_CONDITIONALS) delete headers[name];
    return { ...headers, ...(stored && validatorsOf(stored)) };
  }

  /** Writes a stored response: 304 when the client's validators match, a range when asked, headers only for HEAD. */
  private serve(c: CacheRequest, stored: Variant, status: CacheStatus): CacheStatus {
    const { req, res } = c;
    const method = req.method ?? 'GET';
    const extra = { age: String(Math.floor(currentAge(stored, this.now()))), 'x-cache': status };
    if ((method === 'GET' || method === 'HEAD') && clientHasCurrentCopy(req.headers, stored)) {
      res.writeHead(304, { ...notModifiedHeaders(stored), ...extra }).end();
      return status;
    }
    let code = stored.status;
    let body = stored.body;
    const headers: Record<string, string | string[]> = { ...stored.headers, ...extra };
    if (method === 'GET' && code === 200 && req.headers.range !== undefined && ifRangeHolds(first(req.headers['if-range']), stored)) {
      const range = parseRange(req.headers.range, body.length);
      if (range.kind === 'partial') {
        code = 206;
        headers['content-range'] = `bytes ${range.start}-${range.end}/${body.length}`;
        body = body.subarray(range.start, range.end + 1);
      } else if (range.kind === 'unsatisfiable') {
        code = 416;
        headers['content-range'] = `bytes */${body.length}`;
        body = Buffer.alloc(0);
      }
    }
    if (code === 204 || code === 304) delete headers['content-length'];
    else headers['content-length'] = String(body.length);
    res.writeHead(code, headers);
    res.end(method === 'HEAD' ? undefined : body);
    return status;
  }

  private async passThrough(c: CacheRequest, status: CacheStatus, invalidates: boolean): Promise<CacheStatus> {
    const fetched = await c.fetch({ method: c.req.method!, path: c.req.url ?? '/', headers: c.req.headers });
    if (invalidates && fetched.kind === 'response' && fetched.response.status < 400) this.invalidate(c.req, fetched.response);
    deliver(fetched, c.res, { 'x-cache': status });
    return status;
  }

  /** An unsafe method's success invalidates its URL and the same-origin Location and Content-Location (RFC 9111 §4.4). */
  private invalidate(req: IncomingMessage, r: UpstreamResponse): void {
    const host = (req.headers.host ?? '').toLowerCase();
    const base = `http://${host || 'invalid'}${req.url ?? '/'}`;
    this.store.purge({ host, target: req.url ?? '/' });
    for (const name of ['location', 'content-location']) {
      const value = first(r.headers[name]);
      if (value === undefined) continue;
      try {
        const url = new URL(value, base);
        if (url.host === host) this.store.purge({ host, target: url.pathname + url.search });
      } catch {
        // Not a URL: nothing to invalidate.
      }
    }
  }

  /** Marks a fetch of `key` in progress; the returned function ends it (once). */
  private lock(key: string): () => void {
    if (this.locks.has(key)) return () => {};
    let release!: () => void;
    const lock = new Promise<void>((resolve) => { release = resolve; });
    this.locks.set(key, lock);
    return () => {
      if (this.locks.get(key) === lock) this.locks.delete(key);
      release();
    };
  }

  private async waitFor(key: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.locks.get(key), new Promise<void>((resolve) => { timer = setTimeout(resolve, this.options.lockTimeoutMs); })]);
    clearTimeout(timer);
  }
}

/** If-Range (RFC 9110 §13.1.5): a strong entity tag or the exact Last-Modified; otherwise the whole body. */
function ifRangeHolds(ifRange: string | undefined, stored: Variant): boolean {
  if (ifRange === undefined) return true;
  if (ifRange.startsWith('"')) return ifRange === first(stored.headers.etag);
  return !ifRange.startsWith('W/') && ifRange === first(stored.headers['last-modified']);
}

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
import type { RequestBody } from '../forward/request-body.js';
import { sendProblem } from '../request/respond.js';
import { validatorsOf } from './conditional.js';
import { parseCacheControl, type Directives } from './directives.js';
import { currentAge, first, judge, staleIfErrorAllowed } from './freshness.js';
import { postKey, primaryKey } from './keys.js';
import { ERROR_STATUSES, sortOriginAnswer } from './origin-answer.js';
import { storedAnswer } from './stored-answer.js';
import { ResponseStore, type StoreLimits, type Variant } from './store.js';
import { makeVariant, refreshVariant } from './variant.js';

export type CacheStatus = 'HIT' | 'MISS' | 'STALE' | 'REVALIDATED' | 'BYPASS';

/** Methods that never change state (RFC 9110 §9.2.1): everything else invalidates. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
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
    let verdict = stored && this.freshnessOf(stored, l);
    if ((!stored || verdict === 'validate') && !onlyIfCached && this.locks.has(key)) {
      await this.waitFor(key);
      stored = this.store.get(key, req.headers);
      verdict = stored && this.freshnessOf(stored, l);
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
    if (method === 'HEAD') res.end();
    else if (stored.text !== undefined) res.end(stored.text, 'latin1'); // with the head, in one write (store.ts)
    else res.end(stored.body);
    return 'HIT';
  }

  /** Drops stored responses by exact target or prefix (optionally one host). */
  purge(match: { target?: string; prefix?: string; host?: string }): number {
    return this.store.purge(match);
  }

  /** Whether `stored` may answer the lookup now: fresh, stale but allowed, or to be validated (freshness.ts). */
  private freshnessOf(stored: Variant, l: Lookup) {
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
    const answer = this.settle(l, stored, fetched.response, requestTime, responseTime, unlock, false);
    if (answer.kind === 'refresh') return this.serve(c, answer.updated, 'REVALIDATED');
    if (answer.kind === 'stale') return this.serve(c, stored!, 'STALE');
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
      this.settle(l, stored, fetched.response, requestTime, this.now(), unlock, true);
      fetched.response.body.resume(); // nobody reads it but the store
    }, (err: Error) => {
      unlock();
      this.events.onBackgroundError(err);
    });
  }

  /**
   * What the origin's answer does to the store, the same for a client's fetch and a
   * background revalidation (origin-answer.ts): refresh the stored response, keep it
   * (stale-if-error), drop it (a newer one was not storable), or store the new one as it
   * streams. A body that is not stored is drained here unless the caller delivers it.
   */
  private settle(l: Lookup, stored: Variant | undefined, r: UpstreamResponse, requestTime: number, responseTime: number, unlock: () => void, background: boolean):
    { kind: 'refresh'; updated: Variant } | { kind: 'stale' } | { kind: 'pass' } | { kind: 'store' } {
    const answer = sortOriginAnswer({
      stored, status: r.status, headers: r.headers, requestMethod: l.req.method ?? 'GET', requestCc: l.requestCc,
      authorized: l.req.headers.authorization !== undefined, maxObjectBytes: this.options.maxObjectBytes, responseTime, background,
    });
    switch (answer.kind) {
      case 'refresh': {
        r.body.resume();
        const updated = refreshVariant(stored!, r.headers, requestTime, responseTime);
        this.store.replace(l.key, stored!, updated);
        unlock();
        return { kind: 'refresh', updated };
      }
      case 'stale':
        r.body.resume();
        unlock();
        return answer;
      case 'pass':
        if (answer.dropStored) this.store.remove(l.key, stored!);
        unlock();
        return answer;
      case 'store':
        this.keepCopy(l, r, requestTime, responseTime, unlock);
        return answer;
    }
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
        this.store.put(l.key, l.host.toLowerCase(), l.target, makeVariant(l.req.headers, r.status, headers, Buffer.concat(chunks), requestTime, responseTime));
      }
      unlock();
    });
  }

  private outgoingHeaders(req: IncomingMessage, l: Lookup, stored: Variant | undefined): IncomingMessage['headers'] {
    const headers = { ...req.headers };
    if (!l.requestCc.values.has('no-store')) for (const name of CLIENT_CONDITIONALS) delete headers[name];
    return { ...headers, ...(stored && validatorsOf(stored)) };
  }

  /** Writes a stored response as storedAnswer (stored-answer.ts) words it. */
  private serve(c: CacheRequest, stored: Variant, status: CacheStatus): CacheStatus {
    const answer = storedAnswer(c.req.method ?? 'GET', c.req.headers, stored, status, this.now());
    c.res.writeHead(answer.status, answer.headers);
    c.res.end(answer.body);
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

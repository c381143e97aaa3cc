/**
 * Where stored responses live: an LRU (lru-cache) bounded by bytes, keyed by
 * the primary key; each key holds the variants its Vary produced, newest
 * first. Entries larger than the object limit are never offered to it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { StoredResponse } from './freshness.js';
import { secondaryKey } from './keys.js';

/** A stored response with what selects it among its key's variants. */
export interface Variant extends StoredResponse {
  /** Lower-cased field names of the response's Vary. */
  vary: string[];
  /** The storing request's normalised values of those fields. */
  secondary: string;
  /** Bytes counted against `max_bytes`: body plus headers plus bookkeeping. */
  size: number;
  /** The stored headers as a flat [name, value, ...] list, without Content-Length: ready for writeHead. */
  raw: string[];
  /** A small body as latin1 text, byte for byte (bodyText): what a fresh hit writes. */
  text: string | undefined;
}

interface Slot {
  host: string;
  target: string;
  variants: Variant[];
  size: number;
}

export interface StoreLimits {
  maxBytes: number;
  maxObjectBytes: number;
}

/** Variants kept per key: a Vary on a field with many values must not fill the cache with one URL. */
const MAX_VARIANTS = 16;
/** What an entry costs beyond its body and headers (objects, the key). */
const OVERHEAD_BYTES = 256;

export class ResponseStore {
  private readonly lru: LRUCache<string, Slot>;

  /** `onEvict` hears of variants pushed out to make room (not of purges or replacements). */
  constructor(readonly limits: StoreLimits, onEvict: (variants: number) => void = () => {}) {
    this.lru = new LRUCache<string, Slot>({
      maxSize: limits.maxBytes,
      sizeCalculation: (slot) => Math.max(1, slot.size),
      dispose: (slot, _key, reason) => {
        if (reason === 'evict') onEvict(slot.variants.length);
      },
    });
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  get entries(): number {
    let n = 0;
    for (const slot of this.lru.values()) n += slot.variants.length;
    return n;
  }

  /** The newest variant under `key` that the request's headers select (RFC 9111 §4.1). */
  get(key: string, headers: IncomingHttpHeaders): Variant | undefined {
    const slot = this.lru.get(key);
    return slot?.variants.find((v) => v.secondary === secondaryKey(v.vary, headers));
  }

  /** Stores `variant`, replacing the one with the same Vary selection. Too large → false. */
  put(key: string, host: string, target: string, variant: Variant): boolean {
    if (variant.size - (variant.text?.length ?? 0) > this.limits.maxObjectBytes || variant.size > this.limits.maxBytes) return false;
    const old = this.lru.peek(key);
    const others = (old?.variants ?? []).filter((v) => !(v.secondary === variant.secondary && v.vary.join() === variant.vary.join()));
    const variants = [variant, ...others].slice(0, MAX_VARIANTS);
    this.lru.set(key, { host, target, variants, size: variants.reduce((sum, v) => sum + v.size, 0) });
    return true;
  }

  /** Replaces `old` by `updated` (a 304 refreshed it) when `old` is still stored. */
  replace(key: string, old: Variant, updated: Variant): void {
    const slot = this.lru.peek(key);
    if (!slot || !slot.variants.includes(old)) return;
    this.put(key, slot.host, slot.target, updated);
  }

  /** Drops `variant`, or every variant under `key`. Returns how many went. */
  remove(key: string, variant?: Variant): number {
    const slot = this.lru.peek(key);
    if (!slot) return 0;
    if (variant === undefined || slot.variants.length === 1) {
      this.lru.delete(key);
      return variant === undefined || slot.variants.includes(variant) ? slot.variants.length : 0;
    }
    const variants = slot.variants.filter((v) => v !== variant);
    if (variants.length === slot.variants.length) return 0;
    this.lru.set(key, { ...slot, variants, size: variants.reduce((sum, v) => sum + v.size, 0) });
    return 1;
  }

  /**
   * Drops what matches: an exact target, or a target prefix, optionally on one
   * host only. Opt-in POST entries of a target go with it. Returns the variants removed.
   */
  purge(match: { target?: string; prefix?: string; host?: string }): number {
    const doomed: string[] = [];
    for (const [key, slot] of this.lru.entries()) {
      if (match.host !== undefined && slot.host !== match.host.toLowerCase()) continue;
      if (match.target !== undefined && slot.target !== match.target) continue;
      if (match.prefix !== undefined && !slot.target.startsWith(match.prefix)) continue;
      doomed.push(key);
    }
    return doomed.reduce((n, key) => n + this.remove(key), 0);
  }

  clear(): void {
    this.lru.clear();
  }
}

/** Headers as the flat list writeHead takes fastest, without the fields the cache sets per answer. */
export function rawHeaders(headers: Record<string, string | string[]>): string[] {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'content-length' || name === 'age' || name === 'x-cache') continue;
    for (const v of Array.isArray(value) ? value : [value]) raw.push(name, v);
  }
  return raw;
}

/**
 * Bodies up to this size are kept a second time as latin1 text. Node sends a
 * string body in one write with the response head, a Buffer as a second chunk
 * (cork, writev): a server answering a 1 KiB body from memory spent 0.95 × the
 * CPU per request with the text, 0.99 × at 3 KiB, 1.06 × at 8 KiB (the head
 * and a large body are copied into one string), docs/decisions.md, issue 20.
 */
export const TEXT_BODY_MAX_BYTES = 2048;

/** `body` as latin1 text (one char per byte, so `res.end(text, 'latin1')` sends the same bytes) when it is small. */
export function bodyText(body: Buffer): string | undefined {
  return body.length <= TEXT_BODY_MAX_BYTES ? body.toString('latin1') : undefined;
}

/** Bytes a variant counts for against `max_bytes`: the response, and its body's text (bodyText) when it keeps one. */
export function variantSize(headers: Record<string, string | string[]>, body: Buffer, text: string | undefined): number {
  return responseSize(headers, body) + (text?.length ?? 0);
}

/** The response as `max_object_bytes` measures it: body, headers and bookkeeping (not the text copy, which is ours). */
function responseSize(headers: Record<string, string | string[]>, body: Buffer): number {
  let size = body.length + OVERHEAD_BYTES;
  for (const [name, value] of Object.entries(headers)) size += name.length + (Array.isArray(value) ? value.join('').length : value.length) + 4;
  return size;
}

/**
 * Cache-Control (RFC 9111 §5.2) parsed into a map of lower-cased directive →
 * argument. Quoted and token arguments are both accepted (§5.2); a directive
 * given twice keeps its first value and is marked, because §4.2.1 lets a cache
 * treat a response with conflicting freshness as stale.
 */

export interface Directives {
  /** Directive → argument ("" when it has none). */
  readonly values: ReadonlyMap<string, string>;
  /** Directives that appeared more than once. */
  readonly repeated: ReadonlySet<string>;
}

const EMPTY: Directives = { values: new Map(), repeated: new Set() };

/**
 * @example parseCacheControl('public, max-age="60", no-cache="set-cookie"').values.get('max-age') // "60"
 */
export function parseCacheControl(header: string | string[] | undefined): Directives {
  if (header === undefined) return EMPTY;
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text.trim() === '') return EMPTY;
  const values = new Map<string, string>();
  const repeated = new Set<string>();
  // name[=token | ="quoted, with commas"]
  const pattern = /\s*([^=,\s]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*)))?\s*(?:,|$)/g;
  for (const m of text.matchAll(pattern)) {
    if (m[0] === '') break;
    const name = m[1]!.toLowerCase();
    const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
    if (values.has(name)) repeated.add(name);
    else values.set(name, value);
  }
  return { values, repeated };
}

/**
 * A delta-seconds argument (RFC 9111 §1.2.2): a non-negative integer; larger
 * than 2^31 is taken as 2^31. Anything else is invalid (undefined).
 * @example deltaSeconds('0060') // 60
 */
export function deltaSeconds(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Math.min(Number(value), 2 ** 31);
}

/** The seconds argument of `name`, "" for present without one, or undefined when absent. */
export function secondsOf(directives: Directives, name: string): number | 'invalid' | undefined {
  const value = directives.values.get(name);
  if (value === undefined) return undefined;
  return deltaSeconds(value) ?? 'invalid';
}

/** An HTTP-date (RFC 9110 §5.6.7) as epoch milliseconds, or undefined when it is not one. */
export function parseHttpDate(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || !/^[A-Za-z]{3}/.test(text.trim())) return undefined;
  // asctime-date carries no zone but means GMT, like the other two forms.
  const ms = Date.parse(/GMT\s*$/.test(text) ? text : `${text} GMT`);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The shipped config is what `npm start` and every new user run: it must follow
 * the documented defaults. A key that overrides a schema default needs a comment
 * on its line (or above it) saying why (issue: the shipped `policy: round-robin`
 * silently replaced least-outstanding, halving throughput under mixed cost).
 */
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { DEFAULT_CONFIG_FILE, loadConfig } from './load.js';
import { configSchema } from './schema.js';

type Path = Array<string | number>;

/** Every key/value pair of the document whose value is a scalar or an empty collection, with its path and comments. */
function leaves(node: Node | null, path: Path = []): Array<{ path: Path; commented: boolean }> {
  const found: Array<{ path: Path; commented: boolean }> = [];
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      const value = pair.value as Node | null;
      const isLeaf = isScalar(value) || ((isMap(value) || isSeq(value)) && value.items.length === 0);
      if (isLeaf) {
        const commented = Boolean((value as Node).comment || pair.key.commentBefore || (node.items[0] === pair && node.commentBefore));
        found.push({ path: [...path, key], commented });
      } else {
        found.push(...leaves(value, [...path, key]));
      }
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => found.push(...leaves(item as Node, [...path, i])));
  }
  return found;
}

/** The schema's output for the document, or undefined when the schema refuses it. */
function parsed(doc: Document): unknown {
  const result = configSchema.safeParse(doc.toJS() ?? {});
  return result.success ? result.data : undefined;
}

/** The keys of `text` that change the parsed config when removed (they override a default), and whether they say why. */
export function overrides(text: string): Array<{ key: string; commented: boolean }> {
  const doc = parseDocument(text);
  const full = parsed(doc);
  if (full === undefined) throw new Error('the file does not validate');
  return leaves(doc.contents).flatMap(({ path, commented }) => {
    const without = doc.clone();
    without.deleteIn(path);
    const rest = parsed(without);
    // Refused without it: the key is required (a route, a certificate), not an override.
    if (rest === undefined || isDeepStrictEqual(rest, full)) return [];
    return [{ key: path.join('.'), commented }];
  });
}

describe('the shipped config', () => {
  const text = readFileSync(DEFAULT_CONFIG_FILE, 'utf8');

  it('overrides no schema default without a comment saying why', () => {
    expect(overrides(text).filter((o) => !o.commented).map((o) => o.key)).toEqual([]);
  });

  it('runs the documented defaults: least-outstanding, /readyz checks and slot caps for the pool only', () => {
    const config = loadConfig(DEFAULT_CONFIG_FILE);
    const pool = config.upstreams.get(config.pool.upstream)!;
    expect(pool.policy).toBe('least-outstanding');
    expect(pool.max_inflight).toBe('auto');
    expect(pool.health.path).toBe('/readyz');
  });

  it('catches an override without a comment, and accepts one with a comment', () => {
    const base = 'upstreams:\n  inference:\n    servers: []\nroutes:\n  - { path: /, upstream: inference }\n';
    expect(overrides(base)).toEqual([]);
    const bare = base.replace('    servers: []', '    policy: round-robin\n    servers: []');
    expect(overrides(bare)).toEqual([{ key: 'upstreams.inference.policy', commented: false }]);
    const said = base.replace('    servers: []', '    policy: round-robin   # sticky enough for the demo\n    servers: []');
    expect(overrides(said)).toEqual([{ key: 'upstreams.inference.policy', commented: true }]);
  });
});

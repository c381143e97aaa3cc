import { describe, expect, it } from 'vitest';
import { ConsistentHash, hash32 } from './hash.js';
import { fake } from './testing.js';

const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

describe('ConsistentHash', () => {
  it('maps a key to the same server every time', () => {
    const policy = new ConsistentHash();
    const servers = ['a', 'b', 'c'].map((u) => fake(u));
    for (const key of keys.slice(0, 100)) {
      const first = policy.pick(servers, { hashKey: key });
      for (let i = 0; i < 3; i++) expect(policy.pick(servers, { hashKey: key })).toBe(first);
    }
  });

  it('splits keys evenly over equal servers (±5 %)', () => {
    const policy = new ConsistentHash();
    const servers = ['a', 'b', 'c'].map((u) => fake(u));
    const counts: Record<string, number> = {};
    for (const key of keys) {
      const url = policy.pick(servers, { hashKey: key })!.url;
      counts[url] = (counts[url] ?? 0) + 1;
    }
    for (const n of Object.values(counts)) expect(Math.abs(n / keys.length - 1 / 3)).toBeLessThan(0.05);
  });

  it('moves only the keys of a removed server', () => {
    const policy = new ConsistentHash();
    const three = ['a', 'b', 'c'].map((u) => fake(u));
    const before = new Map(keys.map((k) => [k, policy.pick(three, { hashKey: k })!.url]));
    const two = three.filter((s) => s.url !== 'c');
    const stayed = keys.filter((k) => before.get(k) !== 'c');
    const unmoved = stayed.filter((k) => policy.pick(two, { hashKey: k })!.url === before.get(k)).length;
    expect(unmoved / stayed.length).toBeGreaterThanOrEqual(0.95);
  });

  it('bounds the load: keys of an overloaded server go to the next one', () => {
    const policy = new ConsistentHash(1.25);
    const servers = ['a', 'b', 'c'].map((u) => fake(u));
    const onA = keys.filter((k) => policy.pick(servers, { hashKey: k })!.url === 'a').slice(0, 100);
    servers[0]!.inflight = 10; // average (10 + 1) / 3: a is far above 1.25 × that
    for (const key of onA) expect(policy.pick(servers, { hashKey: key })!.url).not.toBe('a');
  });

  it('falls back to least-outstanding without a key', () => {
    const servers = [fake('a', { inflight: 2 }), fake('b')];
    expect(new ConsistentHash().pick(servers, {})?.url).toBe('b');
  });

  it('hash32 is a well-mixed 32-bit hash', () => {
    expect(hash32('a')).not.toBe(hash32('b'));
    const top = keys.filter((k) => hash32(k) >= 2 ** 31).length;
    expect(Math.abs(top / keys.length - 0.5)).toBeLessThan(0.02);
  });
});

import { describe, expect, it } from 'vitest';
import { RoundRobin } from './round-robin.js';

const server = (url: string, available = true) => ({ url, weight: 1, inflight: 0, latencyEwmaMs: 0, available });

describe('RoundRobin', () => {
  it('takes each server in turn', () => {
    const policy = new RoundRobin();
    const servers = ['a', 'b', 'c'].map((u) => server(u));
    expect(Array.from({ length: 7 }, () => policy.pick(servers)?.url)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('skips unavailable servers without losing its place', () => {
    const policy = new RoundRobin();
    const servers = [server('a'), server('b', false), server('c')];
    expect(Array.from({ length: 4 }, () => policy.pick(servers)?.url)).toEqual(['a', 'c', 'a', 'c']);
  });
});

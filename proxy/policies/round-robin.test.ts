import { describe, expect, it } from 'vitest';
import { RoundRobin } from './round-robin.js';

const servers = ['a', 'b', 'c'].map((url) => ({ url, weight: 1, inflight: 0 }));

describe('RoundRobin', () => {
  it('takes each server in turn', () => {
    const policy = new RoundRobin();
    expect(Array.from({ length: 7 }, () => policy.pick(servers)?.url)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('keeps spreading when the list shrinks', () => {
    const policy = new RoundRobin();
    policy.pick(servers);
    const two = servers.slice(0, 2);
    const picks = Array.from({ length: 4 }, () => policy.pick(two)?.url);
    expect(new Set(picks)).toEqual(new Set(['a', 'b']));
  });

  it('returns undefined for an empty list', () => {
    expect(new RoundRobin().pick([])).toBeUndefined();
  });
});

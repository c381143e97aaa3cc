/** Policies by their stable config name (`upstreams.<name>.policy`). */
import type { Policy } from './policy.js';
import { RoundRobin } from './round-robin.js';

export const POLICIES = {
  'round-robin': () => new RoundRobin(),
} satisfies Record<string, () => Policy>;

export type PolicyName = keyof typeof POLICIES;

export function createPolicy(name: PolicyName): Policy {
  return POLICIES[name]();
}

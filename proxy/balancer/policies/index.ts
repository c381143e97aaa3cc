/** Policies by their stable config name (`upstreams.<name>.policy`). */
import type { PolicyName } from '../../../lib/config/schema.js';
import { ConsistentHash } from './hash.js';
import { LeastOutstanding } from './least-outstanding.js';
import { PowerOfTwoChoices } from './p2c.js';
import type { Policy, Random } from './policy.js';
import { RoundRobin } from './round-robin.js';
import { WeightedRoundRobin } from './weighted-round-robin.js';

export type { PolicyName };

export interface PolicyOptions {
  /** `hash` only: no server takes more than this factor of the average load. */
  balanceFactor: number;
}

/** Every policy, by name. Each factory takes the upstream's options and a random source. */
export const POLICIES: Record<PolicyName, (options: PolicyOptions, random: Random) => Policy> = {
  'least-outstanding': () => new LeastOutstanding(),
  'round-robin': () => new RoundRobin(),
  'weighted-round-robin': () => new WeightedRoundRobin(),
  p2c: (_options, random) => new PowerOfTwoChoices(random),
  hash: (options) => new ConsistentHash(options.balanceFactor),
};

export function createPolicy(name: PolicyName, options: PolicyOptions, random: Random = Math.random): Policy {
  return POLICIES[name](options, random);
}

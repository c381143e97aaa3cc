/**
 * When to renew an ACME certificate and how long to wait after a failure: pure
 * functions of the certificate's lifetime, so that Let's Encrypt's 90 days and a
 * test CA's minutes follow the same rules.
 */

/**
 * Renewal at two thirds of the lifetime, less up to a thirtieth of it at random
 * (jitter: proxies that got their certificates together do not all renew in the
 * same second).
 * @example renewAt(0, 90 * DAY, () => 0) // 60 days after issue
 */
export function renewAt(notBefore: number, notAfter: number, random: () => number = Math.random): number {
  const lifetime = notAfter - notBefore;
  return notBefore + (lifetime * 2) / 3 - (lifetime / 30) * random();
}

/**
 * The wait before attempt `failures + 1`: doubling from a hundredth of the
 * lifetime (at least 1 s, at most 1 min) up to a tenth of it (at most 6 h).
 * Without a certificate yet, the lifetime is taken as Let's Encrypt's 90 days.
 * @example retryDelay(3, 90 * DAY) // 8 min
 */
export function retryDelay(failures: number, lifetimeMs = 90 * 86_400_000): number {
  const base = Math.min(Math.max(lifetimeMs / 100, 1000), 60_000);
  const max = Math.min(Math.max(lifetimeMs / 10, base), 6 * 3_600_000);
  return Math.min(base * 2 ** Math.max(0, failures - 1), max);
}

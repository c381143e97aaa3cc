/**
 * Durations and sizes in the config are strings with units ("500ms", "2s", "64MiB"),
 * as nginx and HAProxy users write them; a bare number is ambiguous, so it is refused.
 */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = {
  B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3,
};

/**
 * Parses a duration into milliseconds, or returns an error message.
 * @example parseDuration('1.5s') // 1500
 */
export function parseDuration(text: string): number | string {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) return `"${text}" is not a duration: write a number and a unit (ms, s, m, h), e.g. "500ms" or "2s"`;
  return Number(m[1]) * DURATION_UNITS[m[2]!]!;
}

/**
 * Parses a size into bytes, or returns an error message.
 * @example parseSize('64MiB') // 67108864
 */
export function parseSize(text: string): number | string {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/.exec(text.trim());
  if (!m) return `"${text}" is not a size: write a number and a unit (B, KB, MB, GB, KiB, MiB, GiB), e.g. "64MiB"`;
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2]!]!);
}

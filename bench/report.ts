/** Markdown tables and the JSON shape of bench results. */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface Check {
  what: string;
  target: string;
  value: number;
  pass: boolean;
}

export interface ScenarioResult {
  scenario: string;
  description: string;
  rows: Array<Record<string, string | number>>;
  checks: Check[];
}

export function machine() {
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  return { cores: availableParallelism(), cpu, node: process.version, date: new Date().toISOString() };
}

export function table(rows: Array<Record<string, string | number>>): string {
  if (rows.length === 0) return '';
  const columns = Object.keys(rows[0]!);
  const cell = (v: string | number | undefined) => (typeof v === 'number' ? format(v) : (v ?? ''));
  return [
    `| ${columns.join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${columns.map((c) => cell(r[c])).join(' | ')} |`),
  ].join('\n');
}

export function printScenario(result: ScenarioResult): void {
  process.stdout.write(`\n### ${result.scenario}\n${result.description}\n\n${table(result.rows)}\n`);
  if (result.checks.length > 0) {
    process.stdout.write(`\n${table(result.checks.map((c) => ({ check: c.what, target: c.target, measured: c.value, result: c.pass ? 'pass' : 'FAIL' })))}\n`);
  }
}

function format(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** The middle run (the upper middle of an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** The spread of runs around their median, as ±% of it (half the range). */
export function spread(xs: readonly number[]): string {
  return `±${((100 * (Math.max(...xs) - Math.min(...xs))) / 2 / median(xs)).toFixed(0)} %`;
}

/**
 * The ratio a / b round by round (runs of the same round are minutes apart at
 * most, so they share the machine's mood), as its median and range: steadier
 * than the ratio of the two medians on a shared, noisy machine.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): { median: number; min: number; max: number } {
  const ratios = a.map((x, i) => x / b[i]!);
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

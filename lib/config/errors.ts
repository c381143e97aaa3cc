/**
 * Turns YAML and schema problems into messages that name the file, line and key,
 * with a "did you mean" hint for misspelt keys.
 */
import type { z } from 'zod';
import { isMap, isScalar, type Document, type LineCounter, type Node } from 'yaml';

export interface ConfigProblem {
  key: string;
  line?: number;
  col?: number;
  message: string;
}

/** A config that cannot be used; `message` lists every problem, one per line. */
export class ConfigError extends Error {
  constructor(readonly file: string, readonly problems: ConfigProblem[]) {
    super(problems.map((p) => formatProblem(file, p)).join('\n'));
    this.name = 'ConfigError';
  }
}

function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.line ? `${file}:${p.line}:${p.col ?? 1}` : file;
  return p.key ? `${where}: ${p.key}: ${p.message}` : `${where}: ${p.message}`;
}

type Path = readonly PropertyKey[];

/** Maps zod issues onto positions in the YAML document. */
export function problemsFromIssues(
  issues: z.core.$ZodIssue[], doc: Document, lines: LineCounter, schema: z.ZodType,
): ConfigProblem[] {
  return issues.flatMap(unwrapUnion).flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const hint = closest(key, knownKeysAt(schema, issue.path));
        return {
          key: joinPath([...issue.path, key]),
          ...position(keyNode(doc, issue.path, key), lines),
          message: `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}`,
        };
      });
    }
    const node = nearestNode(doc, issue.path);
    return [{ key: joinPath(issue.path), ...position(node, lines), message: issue.message }];
  });
}

/**
 * A value that fits no branch of a union gets zod's bare "Invalid input"; the
 * branch that explains itself (a custom message, or the deepest path) says
 * more, so report that one's issues instead.
 */
function unwrapUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union' || !('errors' in issue) || issue.errors.length === 0) return [issue];
  const branches = issue.errors as z.core.$ZodIssue[][];
  const score = (branch: z.core.$ZodIssue[]) => Math.max(...branch.map((i) => (i.code === 'custom' ? 100 : 0) + i.path.length));
  const best = [...branches].sort((a, b) => score(b) - score(a))[0]!;
  return best.flatMap((i) => unwrapUnion({ ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue));
}

function joinPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

function position(node: Node | undefined | null, lines: LineCounter): { line?: number; col?: number } {
  const offset = node?.range?.[0];
  return offset === undefined ? {} : lines.linePos(offset);
}

/** The node at `path`, or the deepest ancestor that exists (a missing key points at its parent). */
function nearestNode(doc: Document, path: Path): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (node && typeof node === 'object') return node as Node;
  }
  return undefined;
}

function keyNode(doc: Document, parent: Path, key: string): Node | undefined {
  const map = nearestNode(doc, parent);
  if (!isMap(map)) return map;
  const pair = map.items.find((item) => isScalar(item.key) && item.key.value === key);
  return (pair?.key as Node | undefined) ?? map;
}

/** The keys an object schema accepts at `path`, unwrapping defaults, pipes, arrays and records. */
function knownKeysAt(schema: z.ZodType, path: Path): string[] {
  let current: unknown = schema;
  const unwrap = (s: unknown): unknown => {
    for (;;) {
      const def = (s as { _zod?: { def?: Record<string, unknown> } })?._zod?.def;
      if (!def) return s;
      if (def.innerType) s = def.innerType;
      else if (def.type === 'pipe') s = def.in;
      else if (def.type === 'union') s = (def.options as unknown[]).find((o) => shapeOf(unwrap(o))) ?? s;
      else return s;
      if (def.type === 'union') return s;
    }
  };
  for (const step of path) {
    const s = unwrap(current);
    const def = (s as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def.type === 'array') current = def.element;
    else if (def.type === 'record') current = def.valueType;
    else current = shapeOf(s)?.[String(step)];
  }
  return Object.keys(shapeOf(unwrap(current)) ?? {});
}

function shapeOf(s: unknown): Record<string, unknown> | undefined {
  const def = (s as { _zod?: { def?: { type?: string; shape?: Record<string, unknown> } } })?._zod?.def;
  return def?.type === 'object' ? def.shape : undefined;
}

/** The known key nearest to `word` by edit distance, if it is close enough to be a typo. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * The shape of config/portico.yaml, validated with zod. Keys are a contract
 * (../shared/DESIGN.md "Config shape"): later work extends them, never renames.
 */
import { z } from 'zod';

const port = z.int().min(1).max(65535);
const name = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, "_", "-" or "."');

/** `8080`, `"127.0.0.1:9901"`, `"[::1]:9901"` or `":8080"` → `{host, port}`; no host means every address. */
export const listenSchema = z.union([port, z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return { host: undefined, port: value };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d+)$/.exec(value.trim());
  const portNumber = m ? Number(m[3]) : NaN;
  if (!m || !(portNumber >= 0 && portNumber <= 65535)) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a listen address: write a port (8080) or host:port ("127.0.0.1:9901", "[::1]:9901")` });
    return z.NEVER;
  }
  return { host: m[1] ?? (m[2] || undefined), port: portNumber };
});
export type ListenAddress = z.output<typeof listenSchema>;

/** An upstream server: a URL string or `{url, weight}`; normalised to its origin. */
const serverSchema = z
  .union([z.string(), z.strictObject({ url: z.string(), weight: z.int().min(1).max(1000).default(1) })])
  .transform((value, ctx) => {
    const { url, weight } = typeof value === 'string' ? { url: value, weight: 1 } : value;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${url}" is not a URL: write e.g. "http://10.0.0.5:4001"` });
      return z.NEVER;
    }
    if (parsed.protocol !== 'http:' || (parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search || parsed.hash) {
      ctx.addIssue({ code: 'custom', message: `"${url}" must be a plain http://host:port origin (no path, query or https yet)` });
      return z.NEVER;
    }
    return { url: parsed.origin, weight };
  });

const upstreamSchema = z.strictObject({
  policy: z.enum(['round-robin']).default('round-robin'),
  servers: z.array(serverSchema).default([]),
});

const routeSchema = z
  .strictObject({
    name: name.optional(),
    path: z.string().startsWith('/', 'a route path starts with "/"'),
    upstream: name.optional(),
    static: z.string().min(1).optional(),
  })
  .refine((r) => (r.upstream === undefined) !== (r.static === undefined), {
    message: 'a route needs exactly one of "upstream" (a name under upstreams) or "static" (a directory)',
  })
  .transform((r) => ({ ...r, name: r.name ?? routeNameFromPath(r.path) }));

const poolSchema = z.strictObject({
  processes: z.union([z.literal('auto'), z.int().min(0).max(256)]).default('auto'),
  host: z.string().default('127.0.0.1'),
  /** 0: each backend takes a free port and the master tells the proxy (tests, parallel runs). */
  base_port: z.int().min(0).max(65535).default(4001),
  upstream: name.default('inference'),
  slots: z.int().min(1).max(256).default(1),
  queue: z.int().min(0).max(10_000).default(4),
});

export const configSchema = z
  .strictObject({
    listen: z
      .strictObject({
        http: listenSchema.default({ host: undefined, port: 8080 }),
        admin: listenSchema.default({ host: '127.0.0.1', port: 9901 }),
      })
      .prefault({}),
    pool: poolSchema.prefault({}),
    upstreams: z.record(name, upstreamSchema).default({}),
    routes: z.array(routeSchema).min(1, 'list at least one route'),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.routes.forEach((route, i) => {
      if (seen.has(route.name)) {
        ctx.addIssue({ code: 'custom', path: ['routes', i, 'name'], message: `route name "${route.name}" is used twice; names label metrics and must be unique` });
      }
      seen.add(route.name);
      if (route.upstream !== undefined && !(route.upstream in config.upstreams) && route.upstream !== config.pool.upstream) {
        const known = [...new Set([...Object.keys(config.upstreams), config.pool.upstream])].join(', ');
        ctx.addIssue({ code: 'custom', path: ['routes', i, 'upstream'], message: `no upstream named "${route.upstream}" (known: ${known})` });
      }
    });
  });

export type PorticoConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;

/** "/api/" → "api", "/" → "root": a stable metrics label for routes without a name. */
export function routeNameFromPath(path: string): string {
  const slug = path.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return slug || 'root';
}

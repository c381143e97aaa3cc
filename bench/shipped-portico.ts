/**
 * Portico as `npm start` runs it, for the one-core comparisons (bench:hot-path
 * and the cache scenario): the master with its pool, HTTPS listener and admin
 * API, on the shipped config/portico.yaml with free ports and one extra route
 * to the bench's origin. The whole process tree is pinned to `cpus`; its stdout
 * (the access log) goes to a file, as it would to journald or a log collector.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { CLI_SCRIPT, PROJECT_ROOT } from '../lib/paths.js';
import { freePort, stopChild } from './tools.js';

export interface ShippedOptions {
  /** The extra route's path prefix; it goes to `origin`. */
  path: string;
  origin: string;
  cache?: boolean;
  accessLog: boolean;
  metrics?: boolean;
  /** `proxy.workers` (the shipped default, 1, when absent). */
  workers?: number;
  /** `tracing` (off, the shipped default, when absent). */
  tracing?: { otlp: string; sample: number };
  /** Another build's CLI (dist/bin/portico.js) to run instead of this one: the baseline of a before/after row. */
  cli?: string;
  cpus: string;
}

/** The shipped config with free ports, the static route made absolute, and the bench's route and upstream. */
export function shippedConfig(o: ShippedOptions, ports: { http: number; https: number; admin: number }): string {
  const doc = parseDocument(readFileSync(join(PROJECT_ROOT, 'config/portico.yaml'), 'utf8'));
  doc.setIn(['listen', 'http'], `127.0.0.1:${ports.http}`);
  doc.setIn(['listen', 'https'], `127.0.0.1:${ports.https}`);
  doc.setIn(['listen', 'admin'], `127.0.0.1:${ports.admin}`);
  doc.setIn(['pool', 'base_port'], 0); // not 4001: a Portico the user runs may hold it
  if (!o.accessLog) doc.set('access_log', false);
  if (o.metrics === false) doc.set('metrics', false);
  if (o.workers !== undefined) doc.set('proxy', doc.createNode({ workers: o.workers }));
  if (o.tracing !== undefined) doc.set('tracing', doc.createNode(o.tracing));
  doc.setIn(['upstreams', 'bench_origin'], doc.createNode({ servers: [o.origin] }));
  const routes = doc.get('routes') as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }>; add(v: unknown): void };
  for (const route of routes.items) if (route.get('static') !== undefined) route.set('static', join(PROJECT_ROOT, 'static'));
  routes.add(doc.createNode({ name: 'bench', path: o.path, upstream: 'bench_origin', ...(o.cache && { cache: true }) }));
  return doc.toString();
}

/** Starts it and waits until `probe` (a path under o.path) answers 200 through the proxy. */
export async function startShippedPortico(o: ShippedOptions, probe: string): Promise<{ url: string; stop(): Promise<void>; proxyPid: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'portico-bench-shipped-'));
  const ports = { http: await freePort(), https: await freePort(), admin: await freePort() };
  const file = join(dir, 'portico.yaml');
  writeFileSync(file, shippedConfig(o, ports));
  const log = openSync(join(dir, 'stdout.log'), 'w');
  const errors = openSync(join(dir, 'stderr.log'), 'w'); // the start-up banner, and what went wrong if it did not start
  const child = spawn('taskset', ['-c', o.cpus, process.execPath, o.cli ?? CLI_SCRIPT, '--config', file], { stdio: ['ignore', log, errors] });
  closeSync(log);
  closeSync(errors);
  const url = `http://127.0.0.1:${ports.http}`;
  const stop = async () => {
    await stopChild(child, 20_000); // the master drains its pool first
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 300; i++) {
    try {
      const res = await fetch(`${url}${probe}`);
      await res.arrayBuffer();
      // The proxy process's pid (admin /status), for its CPU time per request.
      if (res.ok) return { url, stop, proxyPid: ((await (await fetch(`http://127.0.0.1:${ports.admin}/status`)).json()) as { pid: number }).pid };
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const stderr = readFileSync(join(dir, 'stderr.log'), 'utf8');
  await stop();
  throw new Error(`Portico (shipped config) did not answer ${probe} within 30 s: ${stderr}`);
}

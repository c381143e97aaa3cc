/**
 * The anchors of `npm run bench -- --compare`: nginx and HAProxy, started by
 * the bench from their Debian packages, in front of the same Portico backends
 * as Portico's own proxy, one worker / one thread each (as Portico's proxy is
 * one process). Missing packages are skipped with a message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { generate } from 'selfsigned';
import { freePort, installed, stopChild } from './tools.js';

export type AnchorKind = 'nginx' | 'haproxy';

export interface AnchorOptions {
  /** HAProxy: requests per server at once (maxconn); nginx has no such cap in the open-source build. */
  maxconn?: number;
  /** HAProxy: how long a request may wait in its queue for a server (timeout queue). */
  queueTimeoutMs?: number;
  /** HAProxy balance algorithm; nginx always round-robin here (its default). */
  balance?: 'leastconn' | 'roundrobin';
  /** Pin to these CPUs (taskset -c), for the one-core pass-through comparison. */
  cpus?: string;
  /** Terminate TLS (a fresh EC P-256 certificate for localhost, as Portico's development one). */
  tls?: boolean;
  /** nginx: write its access log (the combined format, to a file in its directory) instead of `access_log off`. */
  accessLog?: boolean;
}

export interface RunningAnchor {
  kind: AnchorKind;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Which anchors this machine can run, and a line for each one it cannot. */
export function availableAnchors(): { kinds: AnchorKind[]; missing: string[] } {
  const kinds: AnchorKind[] = [];
  const missing: string[] = [];
  for (const kind of ['nginx', 'haproxy'] as const) {
    if (installed(kind)) kinds.push(kind);
    else missing.push(`${kind} is not installed (apt-get install -y ${kind}): its rows are skipped`);
  }
  return { kinds, missing };
}

function nginxConfig(dir: string, port: number, backends: string[], tls: boolean, accessLog: boolean): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log error;
events { worker_connections 4096; }
http {
  access_log ${accessLog ? `${dir}/access.log` : 'off'};
  upstream pool {
${backends.map((b) => `    server ${new URL(b).host};`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096${tls ? ` ssl;\n    ssl_certificate ${dir}/cert.pem;\n    ssl_certificate_key ${dir}/key.pem;\n    ssl_protocols TLSv1.2 TLSv1.3` : ''};
    location / {
      proxy_pass http://pool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 60s;
    }
  }
}
`;
}

function haproxyConfig(dir: string, port: number, backends: string[], o: AnchorOptions): string {
  const maxconn = o.maxconn !== undefined ? ` maxconn ${o.maxconn}` : '';
  return `global
  nbthread 1
  maxconn 8192
  pidfile ${dir}/haproxy.pid
defaults
  mode http
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  timeout queue ${o.queueTimeoutMs ?? 1000}ms
  option http-keep-alive
  http-reuse always
frontend bench
  bind 127.0.0.1:${port}${o.tls ? ` ssl crt ${dir}/combined.pem` : ''}
  default_backend pool
backend pool
  balance ${o.balance ?? 'leastconn'}
${backends.map((b, i) => `  server s${i} ${new URL(b).host}${maxconn}`).join('\n')}
`;
}

/** A private directory for one server's config and state; open to all, since nginx started as root runs its worker as nobody. */
function workDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `portico-bench-${name}-`));
  chmodSync(dir, 0o777);
  return dir;
}

/** Starts `command`, waits until `port` accepts connections, and returns how to stop it (and remove `dir`). */
async function launch(name: string, command: string[], dir: string, port: number): Promise<{ pid: number; stop(): Promise<void> }> {
  const [file, ...args] = command;
  const child: ChildProcess = spawn(file!, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    try {
      await new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(); }).on('error', reject);
      });
      return { pid: child.pid!, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await stop();
  throw new Error(`${name} did not start`);
}

export async function startAnchor(kind: AnchorKind, backends: string[], options: AnchorOptions = {}): Promise<RunningAnchor> {
  const dir = workDir(kind);
  const port = await freePort();
  const command = kind === 'nginx'
    ? ['nginx', '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;']
    : ['haproxy', '-db', '-f', join(dir, 'haproxy.cfg')];
  if (options.tls) {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', algorithm: 'sha256' });
    writeFileSync(join(dir, 'cert.pem'), pems.cert);
    writeFileSync(join(dir, 'key.pem'), pems.private);
    writeFileSync(join(dir, 'combined.pem'), `${pems.cert}\n${pems.private}`);
  }
  if (kind === 'nginx') writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, backends, options.tls === true, options.accessLog === true));
  else writeFileSync(join(dir, 'haproxy.cfg'), haproxyConfig(dir, port, backends, options));
  const running = await launch(kind, options.cpus ? ['taskset', '-c', options.cpus, ...command] : command, dir, port);
  return { kind, url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`, ...running };
}

/** A trivial nginx origin (every request answered "ok" from the config), unpinned, for the pass-through comparison. */
export function startNginxOrigin(): Promise<{ url: string; dir: string; stop(): Promise<void> }> {
  return startNginxServer(`location / { default_type text/plain; return 200 "ok"; }`);
}

/**
 * nginx from Debian as an origin, with `server` as the body of its server block
 * (locations and settings) and `http` as extra settings of its http block; files
 * it should serve go in the returned `dir`, readable by its worker.
 */
export async function startNginxServer(server: string | ((dir: string) => string), http = ''): Promise<{ url: string; dir: string; stop(): Promise<void> }> {
  const dir = workDir('origin');
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), `worker_processes 2;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log error;
events { worker_connections 4096; }
http {
  access_log off;
  ${http}
  server { listen 127.0.0.1:${port} backlog=4096; ${typeof server === 'function' ? server(dir) : server} }
}
`);
  const { stop } = await launch('the nginx origin', ['nginx', '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], dir, port);
  return { url: `http://127.0.0.1:${port}`, dir, stop };
}

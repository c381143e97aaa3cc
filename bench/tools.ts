/** Small helpers the bench scripts share: finding a free port, whether a command is installed, stopping what they started. */
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A loopback port nothing listens on right now (bind, read, release). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * wrk -t1 pinned to core 1 (the servers measured run on core 0), without blocking this process,
 * which may serve the origin: requests per second, and requests in all.
 */
export async function pinnedWrk(url: string, seconds: number, connections = 50): Promise<{ rps: number; requests: number }> {
  const { stdout } = await promisify(execFile)('taskset', ['-c', '1', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, url], { encoding: 'utf8' });
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN), requests: Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN) };
}

/** Whether `tool` is on the PATH. */
export function installed(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops a server the bench started, and waits for it: SIGTERM first, so that
 * a master process (nginx, HAProxy, Portico) takes its workers down with it
 * (SIGKILL orphaned nginx's workers, still listening); SIGKILL after `graceMs`.
 */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(killer);
}


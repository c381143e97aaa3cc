/**
 * JSON-lines logging to stdout with pino: one line per event, cheap on the hot
 * path (the proxy writes an access-log line per request). How lines reach
 * stdout depends on what it is (`logDestination`).
 */
import { fstatSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { pino, type Logger } from 'pino';
import { FLUSH_MS, LineBuffer } from './line-buffer.js';

export type { Logger } from 'pino';

/** A logger whose lines carry `component` (master, proxy, backend) and the pid. */
export function createLogger(component: string, level = process.env.PORTICO_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { component, pid: process.pid },
    timestamp: isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, logDestination(1));
}

export interface LineDestination {
  write(line: string): void;
}

/**
 * - A file (or /dev/null): lines are held in a 64 KiB buffer and written
 *   with one synchronous write when it fills or 100 ms after its first line
 *   (line-buffer.ts), as nginx's `access_log ... buffer= flush=`. A file write
 *   does not wait on anyone, and this costs less than handing each batch to
 *   the thread pool: with the access log on, the proxy kept a median 0.87 of
 *   its throughput without it (0.79–0.92) against 0.80 (0.79–0.92) for
 *   sonic-boom's asynchronous writes (4 paired rounds, bench:hot-path setup,
 *   writing once per event-loop turn then).
 * - A pipe, socket or terminal (journald, a container runtime, a shell): a
 *   reader that stops reading must not stall the proxy, so lines go through
 *   sonic-boom asynchronously, batched while a write is under way, as Buffers
 *   (given strings, it re-measures the whole batch on every line: 4.6 % of
 *   the proxy's CPU on cache hits).
 */
export function logDestination(fd: number): LineDestination {
  const stat = fstatSync(fd);
  if (!isatty(fd) && (stat.isFile() || stat.isCharacterDevice())) return new BufferedFile(fd);
  const boom = pino.destination({ dest: fd, sync: false, contentMode: 'buffer' });
  return { write: (line) => void boom.write(Buffer.from(line) as unknown as string) };
}

/** Lines held in a LineBuffer, written to the file when it fills or FLUSH_MS after its first line; what is held is written at exit. */
class BufferedFile implements LineDestination {
  private readonly buffer = new LineBuffer();
  private timer: NodeJS.Timeout | undefined;
  /** Lines dropped since writing last failed (0 while writes succeed). */
  private dropped = 0;

  constructor(private readonly fd: number) {
    process.on('exit', () => this.flush());
  }

  write(line: string): void {
    if (!this.buffer.add(line)) {
      this.flush();
      if (!this.buffer.add(line)) return this.writeOut(Buffer.from(line), 1);
    }
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    this.writeOut(this.buffer.held(), this.buffer.lines);
    this.buffer.clear();
  }

  /** `lines`: how many `data` holds, counted as dropped when it cannot be written. */
  private writeOut(data: Buffer, lines: number): void {
    try {
      writeWholeSync(this.fd, data);
      if (this.dropped !== 0) process.stderr.write(`portico: writing log lines to stdout works again; ${this.dropped} were dropped\n`);
      this.dropped = 0;
    } catch (err) {
      // A full disk, say: what is held is dropped (requests must not fail for it) and the next write tries again.
      if (this.dropped === 0) process.stderr.write(`portico: cannot write log lines to stdout (${(err as Error).message}); dropping them until it works again\n`);
      this.dropped += lines;
    }
  }
}

/** Writes all of `data` to `fd` (a write may take only part of it); throws what the write throws. */
export function writeWholeSync(fd: number, data: Buffer): void {
  while (data.length > 0) data = data.subarray(writeSync(fd, data));
}

let stampedAt = Number.NaN;
let stamp = '';

/** pino's ISO-time field (`,"time":"…"`), formatted once per millisecond rather than once per line. */
export function isoTime(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    stamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

/**
 * A log file written asynchronously and reopened on request (`access_log:
 * { file }`, SIGUSR1 after logrotate moved it, as nginx's `-s reopen`). The
 * lines of one event-loop turn are joined and handed to the thread pool in one
 * write; while a write is under way the next lines wait and go together after
 * it, so a slow disk never blocks the proxy. Past MAX_PENDING_BYTES waiting,
 * lines are dropped and counted: a request must never wait for its log line.
 */
import { closeSync, openSync, write, writeSync } from 'node:fs';
import type { LineDestination } from './log.js';

/** Lines waiting for a slow disk, beyond which new ones are dropped. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

export class LogFile implements LineDestination {
  private fd: number;
  private lines: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private writing = false;
  private reopenWanted = false;
  private closed = false;
  /** Whether the last write failed (its error is reported once, until writing works again). */
  private failing = false;

  /**
   * Opens `path` for appending (created 0640 when missing), or throws an Error that names it.
   * @example const file = new LogFile('/var/log/portico/access.log', (n) => dropped.inc(n));
   */
  constructor(readonly path: string, private readonly onDropped: (lines: number, why: string) => void = () => {}) {
    this.fd = openLogFile(path);
    process.on('exit', this.flushAtExit);
  }

  write(line: string): void {
    if (this.closed) return this.onDropped(1, 'closed');
    if (this.pendingBytes > MAX_PENDING_BYTES) return this.onDropped(1, 'backlog');
    this.lines.push(line);
    this.pendingBytes += line.length;
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  /**
   * Opens the path anew (after the file was moved away), once the write under way
   * has finished; the old descriptor is closed. When the path cannot be opened, the
   * old file stays in use and the error is returned through `onError`.
   */
  reopen(onError: (err: Error) => void = () => {}): void {
    if (this.writing) {
      this.reopenWanted = true;
      this.onReopenError = onError;
      return;
    }
    this.swapFile(onError);
  }

  /**
   * Writes what waits, after the write under way, then closes the file (a reload that names
   * another file, the proxy's drain); resolves when it is closed.
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.whenClosed = new Promise((resolve) => { this.onClosed = resolve; });
      if (!this.writing) this.finish();
    }
    return this.whenClosed!;
  }

  private whenClosed: Promise<void> | undefined;
  private onClosed: () => void = () => {};

  private onReopenError: (err: Error) => void = () => {};

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.writing || this.lines.length === 0) return;
    const count = this.lines.length;
    const data = Buffer.from(this.lines.join(''));
    this.lines = [];
    this.pendingBytes = 0;
    this.writing = true;
    this.writeAll(data, count);
  };

  private writeAll(data: Buffer, count: number): void {
    write(this.fd, data, 0, data.length, null, (err, written) => {
      if (!err && written < data.length) return this.writeAll(data.subarray(written), count);
      this.writing = false;
      if (err) {
        // A full disk, say: this batch is lost (requests must not fail for it); the next one tries again.
        if (!this.failing) process.stderr.write(`portico: cannot write to ${this.path} (${err.message}); dropping log lines until it works again\n`);
        this.failing = true;
        this.onDropped(count, 'write_error');
      } else if (this.failing) {
        this.failing = false;
        process.stderr.write(`portico: writing to ${this.path} works again\n`);
      }
      if (this.reopenWanted) {
        this.reopenWanted = false;
        this.swapFile(this.onReopenError);
      }
      if (this.closed) return this.finish();
      this.flush();
    });
  }

  private swapFile(onError: (err: Error) => void): void {
    if (this.closed) return;
    let fd: number;
    try {
      fd = openLogFile(this.path);
    } catch (err) {
      return onError(err as Error);
    }
    closeSync(this.fd);
    this.fd = fd;
  }

  /** After close(): the last lines, synchronously (nothing else is writing), then the descriptor. */
  private finish(): void {
    process.removeListener('exit', this.flushAtExit);
    this.flushAtExit();
    closeSync(this.fd);
    this.onClosed();
  }

  /**
   * At exit nothing asynchronous runs any more: what waits is written synchronously. (A process
   * that drains awaits close() first, so a write under way cannot be overtaken.)
   */
  private readonly flushAtExit = (): void => {
    if (this.lines.length === 0) return;
    let data = Buffer.from(this.lines.join(''));
    this.lines = [];
    try {
      while (data.length > 0) data = data.subarray(writeSync(this.fd, data));
    } catch {
      // Exiting: nowhere left to report it.
    }
  };
}

function openLogFile(path: string): number {
  try {
    return openSync(path, 'a', 0o640);
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    throw new Error(`cannot open the log file ${path}: ${code ?? message}${code === 'ENOENT' ? ' (its directory does not exist)' : code === 'EACCES' ? ' (permission denied)' : ''}`);
  }
}

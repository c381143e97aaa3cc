/**
 * A log file written asynchronously and reopened on request (`access_log:
 * { file }`, SIGUSR1 after logrotate moved it, as nginx's `-s reopen`). Lines
 * are held in a 64 KiB buffer (line-buffer.ts) and handed to the thread pool
 * when it fills or 100 ms after its first line; while a write is under way the
 * next buffers wait and go together after it, so a slow disk never blocks the
 * proxy. Past MAX_PENDING_BYTES waiting, lines are dropped and counted: a
 * request must never wait for its log line.
 */
import { closeSync, openSync, write } from 'node:fs';
import { FLUSH_MS, LineBuffer } from './line-buffer.js';
import { type LineDestination, writeWholeSync } from './log.js';

/** Lines waiting for a slow disk, beyond which new ones are dropped. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

export class LogFile implements LineDestination {
  private fd: number;
  /** Lines being added. */
  private held = new LineBuffer();
  /** Full buffers (and lines too long for one) waiting for their write, in order. */
  private queue: { data: Buffer; lines: number }[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing = false;
  /** After a reopen(): how many queued buffers still go to the old file (undefined: no reopen waits). */
  private reopenAfter: number | undefined;
  private onReopenError: (err: Error) => void = () => {};
  private closed = false;
  private whenClosed: Promise<void> | undefined;
  private onClosed: () => void = () => {};
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
    if (this.queuedBytes > MAX_PENDING_BYTES) return this.onDropped(1, 'backlog');
    if (!this.held.add(line)) {
      this.seal();
      if (!this.held.add(line)) this.enqueue(Buffer.from(line), 1);
      this.writeNext();
    }
    this.timer ??= setTimeout(this.flush, FLUSH_MS).unref();
  }

  /**
   * Opens the path anew (after the file was moved away) once every line written
   * before this call is in the old file; the old descriptor is closed. When the path
   * cannot be opened, the old file stays in use and the error is returned through
   * `onError`.
   */
  reopen(onError: (err: Error) => void = () => {}): void {
    if (this.closed) return;
    this.seal();
    this.onReopenError = onError;
    this.reopenAfter = this.queue.length;
    if (!this.writing) this.writeNext();
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

  /** The held lines join the queue, and the timer that would have flushed them stops. */
  private seal(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.held.length > 0) this.enqueue(this.held.take(), this.held.lines);
  }

  private enqueue(data: Buffer, lines: number): void {
    this.queue.push({ data, lines });
    this.queuedBytes += data.length;
  }

  private readonly flush = (): void => {
    this.timer = undefined;
    this.seal();
    this.writeNext();
  };

  /** One write at a time: what is queued (up to a pending reopen), handed to the thread pool at once. */
  private writeNext(): void {
    if (this.writing || this.closed) return;
    if (this.reopenAfter === 0) this.reopenNow();
    const batch = this.queue.splice(0, this.reopenAfter ?? this.queue.length);
    if (batch.length === 0) return;
    if (this.reopenAfter !== undefined) this.reopenAfter -= batch.length;
    const data = batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((b) => b.data));
    this.queuedBytes -= data.length;
    this.writing = true;
    this.writeAll(data, batch.reduce((n, b) => n + b.lines, 0));
  }

  private writeAll(data: Buffer, lines: number): void {
    write(this.fd, data, 0, data.length, null, (err, written) => {
      if (!err && written < data.length) return this.writeAll(data.subarray(written), lines);
      this.writing = false;
      if (err) {
        // A full disk, say: this batch is lost (requests must not fail for it); the next one tries again.
        if (!this.failing) process.stderr.write(`portico: cannot write to ${this.path} (${err.message}); dropping log lines until it works again\n`);
        this.failing = true;
        this.onDropped(lines, 'write_error');
      } else if (this.failing) {
        this.failing = false;
        process.stderr.write(`portico: writing to ${this.path} works again\n`);
      }
      if (this.closed) return this.finish();
      this.writeNext();
    });
  }

  /** The reopen() that waited for the lines logged before it: the path opened anew. */
  private reopenNow(): void {
    this.reopenAfter = undefined;
    let fd: number;
    try {
      fd = openLogFile(this.path);
    } catch (err) {
      return this.onReopenError(err as Error);
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
    this.seal();
    const queue = this.queue.splice(0);
    this.queuedBytes = 0;
    try {
      for (const [i, { data }] of queue.entries()) {
        if (i === this.reopenAfter) this.reopenNow();
        writeWholeSync(this.fd, data);
      }
      if (this.reopenAfter !== undefined) this.reopenNow(); // due after every queued buffer
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

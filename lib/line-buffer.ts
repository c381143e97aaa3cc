/**
 * Log lines encoded straight into one preallocated buffer, written out when it
 * is full or FLUSH_MS after its first line, as nginx's `access_log ...
 * buffer=64k flush=...`. Against one write per event-loop turn (the lines of a
 * turn joined, encoded, then written) this saves the join, a copy and most of
 * the write calls: a cache hit with the access log on cost 1.10 × as much CPU
 * before, with stdout a file (paired rounds, docs/decisions.md, issue 20). A
 * line stays at most FLUSH_MS in memory, and what is held is written at exit.
 */

/** The longest a line waits in memory before it is written. */
export const FLUSH_MS = 100;
/** Bytes held before they are written, whatever the time. */
export const BUFFER_BYTES = 64 * 1024;

export class LineBuffer {
  private buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  /** Lines held. */
  lines = 0;

  /** Bytes held. */
  get length(): number {
    return this.used;
  }

  /**
   * Adds `line` when it surely fits (UTF-8 takes at most 3 bytes per UTF-16 unit),
   * else returns false: write out what is held, then add it again; a line that
   * does not fit an empty buffer must be written on its own.
   */
  add(line: string): boolean {
    if (this.used + line.length * 3 > this.buffer.length) return false;
    this.used += this.buffer.write(line, this.used);
    this.lines++;
    return true;
  }

  /** What is held, as a view of the buffer: write it before the next add(), then clear(). */
  held(): Buffer {
    return this.buffer.subarray(0, this.used);
  }

  clear(): void {
    this.used = 0;
    this.lines = 0;
  }

  /** What is held, as a buffer of its own (for a write still under way while new lines come), leaving this one empty. */
  take(): Buffer {
    const out = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafe(BUFFER_BYTES);
    this.clear();
    return out;
  }
}

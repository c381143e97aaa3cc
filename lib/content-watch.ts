/**
 * Calls back when the content of some files, as read through their paths,
 * changes: on any file-system event in their directories (debounced) and on a
 * slow poll. Events alone are not enough: a Kubernetes ConfigMap or Secret
 * swaps a symlinked `..data` directory (the events name `..data_tmp`, not the
 * file), and bind mounts may send no events at all (Traefik's issue #5589).
 * Rewrites that leave the content as it was do not call back.
 */
import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

export interface ContentWatchOptions {
  pollMs?: number;
  debounceMs?: number;
}

export interface ContentWatcher {
  stop(): void;
  /**
   * Takes the files as they are now as seen: call it when they were read by
   * another path, so that only a change made after that read calls back.
   */
  resync(): void;
}

export function watchContent(files: string[], onChange: () => void, { pollMs = 2000, debounceMs = 250 }: ContentWatchOptions = {}): ContentWatcher {
  let last = digest(files);
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const now = digest(files);
    if (now === undefined || now === last) return; // missing for a moment while being replaced, or unchanged
    last = now;
    onChange();
  };
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(check, debounceMs);
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(files.map((f) => dirname(f)))) {
    try {
      const watcher = watch(dir, soon);
      watcher.on('error', () => undefined); // the directory may vanish and come back; the poll carries on
      watcher.unref();
      watchers.push(watcher);
    } catch {
      // not there now: the poll sees the files when they come
    }
  }
  // A poll that sees a change waits out the debounce too: it may have landed in the middle of a write.
  const poll = setInterval(() => {
    const now = digest(files);
    if (now !== undefined && now !== last) soon();
  }, pollMs);
  poll.unref();
  return {
    stop: () => {
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers) w.close();
    },
    resync: () => { last = digest(files) ?? last; },
  };
}

/** A hash of every file's content, in order; undefined while one of them cannot be read. */
function digest(files: string[]): string | undefined {
  const hash = createHash('sha256');
  try {
    for (const file of files) hash.update(createHash('sha256').update(readFileSync(file)).digest());
  } catch {
    return undefined;
  }
  return hash.digest('hex');
}

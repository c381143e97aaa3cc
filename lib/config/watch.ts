/**
 * Calls back when the config file's content changes: on file-system events for
 * its directory (editors that write a new file and rename it over the old one
 * are seen) and on a slow poll of its content, which also catches what events
 * miss — a Kubernetes ConfigMap swaps a symlinked directory, and bind mounts
 * may send no events at all (Traefik's issue #5589).
 */
import { createHash } from 'node:crypto';
import { readFileSync, watch } from 'node:fs';
import { dirname } from 'node:path';

export interface WatchOptions {
  pollMs?: number;
  debounceMs?: number;
}

export interface ConfigWatcher {
  stop(): void;
  /**
   * Takes the file as it is now as seen: call it when the file is read by
   * another path (POST /reload, SIGHUP), so that a change made after that read
   * is noticed even if it restores the content the watcher saw last (A → B →
   * A within one debounce, B read by /reload: A must still be loaded).
   */
  resync(): void;
}

export function watchConfigFile(file: string, onChange: () => void, { pollMs = 2000, debounceMs = 250 }: WatchOptions = {}): ConfigWatcher {
  let last = digest(file);
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const now = digest(file);
    if (now === undefined || now === last) return; // missing for a moment while being replaced, or unchanged
    last = now;
    onChange();
  };
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(check, debounceMs);
  };
  const watcher = watch(dirname(file), soon);
  watcher.on('error', () => undefined); // the directory may vanish and come back (ConfigMap swaps); the poll carries on
  watcher.unref();
  const poll = setInterval(check, pollMs);
  poll.unref();
  return {
    stop: () => {
      clearTimeout(timer);
      clearInterval(poll);
      watcher.close();
    },
    resync: () => { last = digest(file) ?? last; },
  };
}

function digest(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

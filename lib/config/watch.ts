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

/** Returns a function that stops watching. */
export function watchConfigFile(file: string, onChange: () => void, { pollMs = 2000, debounceMs = 250 }: WatchOptions = {}): () => void {
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
  return () => {
    clearTimeout(timer);
    clearInterval(poll);
    watcher.close();
  };
}

function digest(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

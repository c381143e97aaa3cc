/**
 * Calls back when the config file's content changes: on file-system events for
 * its directory (editors that write a new file and rename it over the old one
 * are seen) and on a slow poll of its content, which also catches what events
 * miss — a Kubernetes ConfigMap swaps a symlinked directory, and bind mounts
 * may send no events at all (Traefik's issue #5589). See lib/content-watch.ts.
 */
import { type ContentWatchOptions, watchContent } from '../content-watch.js';

export type WatchOptions = ContentWatchOptions;

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

export function watchConfigFile(file: string, onChange: () => void, options: WatchOptions = {}): ConfigWatcher {
  return watchContent([file], onChange, options);
}

/**
 * The native core, loaded with koffi. The only file that imports koffi: the C ABI
 * is declared in native/include/portico_core.h and mirrored here once.
 *
 * Calls go through koffi's `.async`, which runs them on libuv's thread pool, so
 * the event loop keeps answering /healthz and /metrics while a call computes.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import koffi from 'koffi';
import { PROJECT_ROOT } from '../lib/paths.js';

/** Mirrors PORTICO_FOO_MIN_VAL / PORTICO_FOO_MAX_VAL. */
export const FOO_MIN_VAL = 0;
export const FOO_MAX_VAL = 100_000;
const PORTICO_OK = 0;

export const DEFAULT_CORE_LIBRARY = resolve(PROJECT_ROOT, 'native/build/libportico_core.so');

/** A call the core refused; `code` is the core's error code. */
export class CoreError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = 'CoreError';
  }
}

export interface Core {
  version: string;
  /** Computes foo(val) off the event loop. @throws CoreError when the core refuses val. */
  foo(val: number): Promise<number>;
}

/**
 * Loads the core library.
 * @throws Error naming the path and how to build it, when the library is missing.
 */
export function loadCore(path = process.env.PORTICO_CORE_LIBRARY ?? DEFAULT_CORE_LIBRARY): Core {
  if (!existsSync(path)) {
    throw new Error(`native core not found at ${path}: build it with "npm install" (or "make -C native")`);
  }
  const lib = koffi.load(path);
  const fooFn = lib.func('int32_t portico_foo(int64_t val, _Out_ double *out)');
  const versionFn = lib.func('const char *portico_version(void)');
  const strerrorFn = lib.func('const char *portico_strerror(int32_t code)');

  return {
    version: versionFn() as string,
    foo(val: number): Promise<number> {
      const out: [number | null] = [null];
      return new Promise((resolvePromise, reject) => {
        fooFn.async(val, out, (err: unknown, code: number) => {
          if (err) reject(err);
          else if (code !== PORTICO_OK) reject(new CoreError(code, strerrorFn(code) as string));
          else resolvePromise(out[0] as number);
        });
      });
    },
  };
}

#!/usr/bin/env node
// Builds the C++ core with make; run by `npm install` (the root "install" script)
// and by `npm test` (with the argument "test"). It checks for the toolchain first,
// so a machine without g++ gets a message that says what to install, not a make trace.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const nativeDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const compiler = process.env.CXX || 'g++';

for (const tool of ['make', compiler]) {
  const found = spawnSync('sh', ['-c', `command -v "${tool}"`], { stdio: 'ignore' }).status === 0;
  if (!found) {
    console.error(`portico: cannot build the native core: "${tool}" is not installed.\n` +
      `  On Debian/Ubuntu: apt-get install -y g++ make\n` +
      `  (or set CXX to your C++17 compiler)`);
    process.exit(1);
  }
}

const target = process.argv[2] === 'test' ? ['test'] : [];
const result = spawnSync('make', ['--no-print-directory', '-C', nativeDir, ...target], { stdio: 'inherit', env: { ...process.env, CXX: compiler } });
process.exit(result.status ?? 1);

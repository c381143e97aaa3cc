/** Where the project's files are, whether this code runs from source (tests) or from dist/. */
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The project root: the folder holding package.json, config/, native/ and static/. */
export const PROJECT_ROOT = basename(resolve(here, '..')) === 'dist' ? resolve(here, '../..') : resolve(here, '..');

/** The compiled CLI; the master runs its children from it. */
export const CLI_SCRIPT = resolve(PROJECT_ROOT, 'dist/bin/portico.js');

/**
 * The import rules between Portico's parts (.dependency-cruiser.cjs): lib/ is a
 * leaf, the master knows the proxy and the backends only as child processes, the
 * backend stands alone, the proxy reaches backends only over HTTP, no cycles.
 */
import { describe, expect, it } from 'vitest';
import { cruise, type IReporterOutput } from 'dependency-cruiser';
import extractDepcruiseConfig from 'dependency-cruiser/config-utl/extract-depcruise-config';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

describe('import rules', () => {
  it('hold for every source file (npx depcruise -c .dependency-cruiser.cjs bin lib backend proxy master)', async () => {
    const previous = process.cwd();
    process.chdir(ROOT); // the rules' paths are relative to the project
    try {
      const config = await extractDepcruiseConfig(join(ROOT, '.dependency-cruiser.cjs'));
      const tsConfig = extractTSConfig(join(ROOT, 'tsconfig.json'));
      const options = { ...config.options, ruleSet: config, validate: true, outputType: 'err' as const };
      const result: IReporterOutput = await cruise(['bin', 'lib', 'backend', 'proxy', 'master'], options, undefined, { tsConfig });
      const violations = typeof result.output === 'string' ? result.output : JSON.stringify(result.output);
      expect(result.exitCode, violations).toBe(0);
      // The rules are live: the cruise found the modules and the imports between them.
      expect(violations).toMatch(/no dependency violations found \((\d{2,}) modules/);
    } finally {
      process.chdir(previous);
    }
  });
});

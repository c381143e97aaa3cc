/**
 * Import rules between Portico's parts (issue 19), checked by
 * test/architecture.test.ts in `npm test` and by `npx depcruise -c .dependency-cruiser.cjs bin lib backend proxy master`.
 */
module.exports = {
  forbidden: [
    {
      name: 'lib-is-a-leaf',
      comment: 'lib/ holds what every part shares (config, logging, IPC messages, metrics helpers): it imports nothing of the parts that use it.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^(proxy|backend|master|bench|bin|scripts|test)/' },
    },
    {
      name: 'master-knows-the-proxy-only-as-a-child',
      comment: 'The master starts the proxy and the backends as child processes and talks to them over IPC (lib/ipc.ts): no code of theirs runs in it.',
      severity: 'error',
      from: { path: '^master/' },
      to: { path: '^(proxy|backend)/' },
    },
    {
      name: 'backend-stands-alone',
      comment: 'A backend runs on machines without a proxy or a master: it needs only lib/ and native/.',
      severity: 'error',
      from: { path: '^backend/' },
      to: { path: '^(proxy|master)/' },
    },
    {
      name: 'proxy-knows-backends-only-over-http',
      comment: 'The proxy treats its backends like any server: over HTTP, never by importing their code.',
      severity: 'error',
      from: { path: '^proxy/' },
      to: { path: '^(backend|master)/' },
    },
    {
      name: 'no-circular',
      comment: 'A cycle makes two modules one: split what both need into a third.',
      severity: 'error',
      from: { path: '^(lib|backend|proxy|master)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/|\\.test\\.ts$' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'] },
  },
};

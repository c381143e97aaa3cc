import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.js';
import { buildChains, type ChainDeps } from './chain.js';

const dir = mkdtempSync(join(tmpdir(), 'portico-chain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function chainsOf(routesYaml: string) {
  const config = parseConfig(`pool: { processes: 0 }\nupstreams: { app: { servers: [ "http://127.0.0.1:1" ] } }\nroutes:\n${routesYaml}`, join(dir, 'portico.yaml'));
  // Building a chain only looks its upstream up; nothing runs.
  const deps = { upstreams: new Map([['app', {}], ['inference', {}]]) } as unknown as ChainDeps;
  return [...buildChains(config.routes, deps).values()].map((chain) => [chain.route.name, chain.steps.map((s) => s.name)]);
}

describe('route chains', () => {
  it('give each route only the steps it uses, in phase order', () => {
    expect(chainsOf(`
  - { name: plain, path: /plain/, upstream: app }
  - { name: static, path: /, static: "." }
  - { name: rewritten, path: /v1/, upstream: app, strip_prefix: true, request_headers: { set: { x-a: "1" } } }
  - { name: edited, path: /e/, upstream: app, response_headers: { remove: [ server ] } }
  - { name: everything, path: /all/, upstream: app, replace_prefix: /v2/, compress: true, cache: true, limits: { rate: "10/s", concurrent: 2 }, request_headers: { add: { x-b: "2" } }, response_headers: { set: { x-c: "3" } } }
`)).toEqual([
      ['plain', ['body-limit']],
      ['static', ['body-limit']],
      ['rewritten', ['rewrite', 'request-headers', 'body-limit']],
      ['edited', ['response-headers', 'body-limit']],
      ['everything', ['rewrite', 'request-headers', 'response-headers', 'compress', 'limits', 'cache-hit', 'body-limit']],
    ]);
  });
});

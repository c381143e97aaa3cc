import { describe, expect, it } from 'vitest';
import { targets } from './targets.js';

describe('targets (Prometheus HTTP service discovery)', () => {
  it('lists the proxy and each backend once, with labels that survive restarts (no pid)', () => {
    const upstream = (name: string, servers: Array<{ url: string; local: boolean; pid?: number }>) => ({ config: { name }, servers }) as never;
    const groups = targets('127.0.0.1:9901', [
      upstream('inference', [{ url: 'http://127.0.0.1:4001', local: true, pid: 123 }, { url: 'http://10.0.0.7:4001', local: false }]),
      upstream('other', [{ url: 'http://10.0.0.7:4001', local: false }]),
    ]);
    expect(groups).toEqual([
      { targets: ['127.0.0.1:9901'], labels: { hop: 'proxy' } },
      { targets: ['127.0.0.1:4001'], labels: { hop: 'backend', upstream: 'inference', server: 'http://127.0.0.1:4001', local: 'true' } },
      { targets: ['10.0.0.7:4001'], labels: { hop: 'backend', upstream: 'inference', server: 'http://10.0.0.7:4001', local: 'false' } },
    ]);
  });
});

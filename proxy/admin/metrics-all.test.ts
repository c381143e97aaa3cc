import { describe, expect, it } from 'vitest';
import { mergeExpositions } from './metrics-all.js';

const proxy = '# HELP up_seconds Uptime.\n# TYPE up_seconds gauge\nup_seconds 5\n# HELP req_total Requests.\n# TYPE req_total counter\nreq_total{code="200"} 3\n';
const backend = '# HELP up_seconds Uptime.\n# TYPE up_seconds gauge\nup_seconds 7\n# HELP calls_total Calls.\n# TYPE calls_total counter\ncalls_total 2\n';

describe('mergeExpositions', () => {
  it('labels every sample by hop and server, and gives each family one HELP and TYPE', () => {
    const text = mergeExpositions([
      { text: proxy, labels: { hop: 'proxy' } },
      { text: backend, labels: { hop: 'backend', server: 'http://127.0.0.1:4001' } },
    ]);
    expect(text).toBe([
      '# HELP up_seconds Uptime.', '# TYPE up_seconds gauge',
      'up_seconds{hop="proxy"} 5', 'up_seconds{hop="backend",server="http://127.0.0.1:4001"} 7',
      '# HELP req_total Requests.', '# TYPE req_total counter', 'req_total{hop="proxy",code="200"} 3',
      '# HELP calls_total Calls.', '# TYPE calls_total counter', 'calls_total{hop="backend",server="http://127.0.0.1:4001"} 2',
      '',
    ].join('\n'));
  });

  it('escapes label values', () => {
    expect(mergeExpositions([{ text: '# TYPE a gauge\na 1\n', labels: { server: 'x"y\\z' } }])).toContain('a{server="x\\"y\\\\z"} 1');
  });
});

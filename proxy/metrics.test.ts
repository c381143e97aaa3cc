import { describe, expect, it } from 'vitest';
import { createProxyMetrics } from './metrics.js';

describe('metrics: false', () => {
  it('turns off only the per-request series: reload success, ejections and health checks still count', async () => {
    const metrics = createProxyMetrics(() => [], () => [], () => [], false);
    metrics.configLastReloadSuccess.set(1);
    metrics.ejections.inc({ upstream: 'u', server: 'http://a' });
    metrics.requests.inc({ route: 'r', upstream: 'u', server: 'http://a', code: '200', method: 'GET' });
    metrics.requestDuration.observe({ route: 'r', upstream: 'u' }, 0.01);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^portico_config_last_reload_success 1$/m);
    expect(text).toMatch(/^portico_upstream_ejections_total\{upstream="u",server="http:\/\/a"\} 1$/m);
    expect(text).not.toMatch(/^portico_requests_total\{/m);
    expect(text).not.toMatch(/^portico_request_duration_seconds_count\{/m);
  });

  it('with metrics on, counts requests too', async () => {
    const metrics = createProxyMetrics(() => [], () => []);
    metrics.requests.inc({ route: 'r', upstream: 'u', server: 'http://a', code: '200', method: 'GET' });
    expect(await metrics.registry.metrics()).toMatch(/^portico_requests_total\{route="r",upstream="u",server="http:\/\/a",code="200",method="GET"\} 1$/m);
  });
});

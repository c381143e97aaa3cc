/**
 * Prometheus HTTP service discovery (`http_sd_configs`): the proxy's own
 * metrics target and every server of every upstream, with labels, so a
 * Prometheus follows backends as the YAML or the pool changes, with no edit
 * of its own config. https://prometheus.io/docs/prometheus/latest/http_sd/
 * No label changes when a process restarts (a pid label made new series on
 * every restart and split each target's history).
 */
import type { Upstream } from '../balancer/upstream.js';

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * `proxyAddress`: host:port of the admin listener as the scraper reached it (its Host header).
 * @example targets('127.0.0.1:9901', upstreams) // [{ targets: ['127.0.0.1:9901'], labels: { hop: 'proxy' } }, ...]
 */
export function targets(proxyAddress: string, upstreams: Iterable<Pick<Upstream, 'config' | 'servers'>>): TargetGroup[] {
  const groups: TargetGroup[] = [{ targets: [proxyAddress], labels: { hop: 'proxy' } }];
  const seen = new Set<string>();
  for (const upstream of upstreams) {
    for (const server of upstream.servers) {
      const url = new URL(server.url);
      if (seen.has(url.host)) continue;
      seen.add(url.host);
      const labels: Record<string, string> = { hop: 'backend', upstream: upstream.config.name, server: server.url, local: String(server.local) };
      groups.push({ targets: [url.host], labels });
    }
  }
  return groups;
}

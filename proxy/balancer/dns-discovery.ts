/**
 * Servers given by DNS name (`{dns, port, resolve: true}`): every A and AAAA
 * address becomes a server, re-resolved when the records' TTL runs out
 * (clamped to dns.min_interval..max_interval). This is how Portico follows a
 * Kubernetes headless Service. A failed lookup keeps the last answer: a DNS
 * hiccup must not empty an upstream.
 */
import { Resolver } from 'node:dns/promises';
import type { DnsServers, PorticoConfig } from '../../lib/config/load.js';
import type { Logger } from '../../lib/log.js';
import { dnsKey, type Upstream } from './upstream.js';

export class DnsDiscovery {
  private readonly resolver = new Resolver({ timeout: 2000, tries: 2 });
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly upstream: Upstream,
    private readonly options: PorticoConfig['dns'],
    private readonly log: Logger,
    private readonly onAdded: () => void,
  ) {
    if (options.resolver) this.resolver.setServers([options.resolver]);
  }

  start(): void {
    for (const entry of this.upstream.config.dns) void this.refresh(entry);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
  }

  private async refresh(entry: DnsServers): Promise<void> {
    let nextMs = this.options.min_interval;
    try {
      const answers = await this.lookup(entry.name);
      if (this.stopped) return;
      if (answers.length === 0) throw new Error(`no A or AAAA records for ${entry.name}`);
      const urls = answers.map((a) => `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${entry.port}`).sort();
      if (this.upstream.setDiscoveredServers(dnsKey(entry), urls, entry.weight)) {
        this.log.info({ upstream: this.upstream.config.name, dns: entry.name, servers: urls }, 'DNS found new servers');
        this.onAdded();
      }
      const ttl = Math.min(...answers.map((a) => a.ttl)) * 1000;
      nextMs = Math.min(Math.max(ttl, this.options.min_interval), this.options.max_interval);
    } catch (err) {
      this.log.warn({ upstream: this.upstream.config.name, dns: entry.name, error: (err as Error).message }, 'DNS lookup failed; keeping the last answer');
    }
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.refresh(entry);
    }, nextMs);
    timer.unref();
    this.timers.add(timer);
  }

  private async lookup(name: string): Promise<Array<{ address: string; ttl: number }>> {
    const [v4, v6] = await Promise.allSettled([this.resolver.resolve4(name, { ttl: true }), this.resolver.resolve6(name, { ttl: true })]);
    const found = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    if (found.length === 0 && v4.status === 'rejected' && v6.status === 'rejected') throw v4.reason as Error;
    return found;
  }
}

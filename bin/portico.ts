#!/usr/bin/env node
/**
 * The `portico` command. With no subcommand it starts the master, which runs the
 * proxy and the local backend pool; `backend` runs one standalone backend;
 * `check-config` validates a file offline; `proxy` is what the master runs.
 */
import './early-signals.js'; // first: see its comment
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, configFilePath, loadConfig, type TracingConfig } from '../lib/config/load.js';
import { PROJECT_ROOT } from '../lib/paths.js';

const HELP = `Usage:
  portico [--config FILE]                 start the master: proxy + supervised backend pool
  portico backend [--host H] [--port N] [--slots N] [--queue N] [--cache-max-age S] [--otlp URL]
                                          run one standalone inference backend
  portico check-config [FILE]             validate a config file and exit (0 valid, 1 invalid)
  portico proxy [--config FILE]           run only the proxy (the master does this for you)

Options:
  -c, --config FILE   config file (default: $PORTICO_CONFIG, else config/portico.yaml)
      --host H        backend: address to listen on (default 127.0.0.1)
      --port N        backend: port to listen on (default 4001; 0 picks a free one)
      --slots N       backend: concurrent native calls (default 1)
      --queue N       backend: requests held beyond the slots before 503 (default 4)
      --cache-max-age S
                      backend: seconds caches may keep a result (default 3600; 0: no-store)
      --otlp URL      backend: send OpenTelemetry spans to this OTLP/HTTP traces URL
                      (default: OTEL_EXPORTER_OTLP_ENDPOINT when set, else no tracing)
      --trace-sample R
                      backend: share of new traces recorded, 0 to 1 (default 1; requests
                      from the proxy keep its choice)
  -h, --help          this text
  -v, --version       the version

Signals (master): SIGHUP reloads the config; SIGUSR2 restarts the proxies without downtime;
SIGUSR1 reopens access_log.file (logrotate); SIGTERM/SIGINT drain and stop everything.`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '4001' },
        slots: { type: 'string', default: '1' },
        queue: { type: 'string', default: '6' },
        'cache-max-age': { type: 'string', default: '3600' },
        otlp: { type: 'string' },
        'trace-sample': { type: 'string', default: '1' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    process.stderr.write(`portico: ${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (values.version) {
    const pkg = JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    process.stdout.write(`portico ${pkg.version}\n`);
    return 0;
  }

  const [command = 'start', ...rest] = positionals;
  if (rest.length > (command === 'check-config' ? 1 : 0)) {
    process.stderr.write(`portico: unexpected argument "${rest.at(-1)}"\n\n${HELP}\n`);
    return 2;
  }
  switch (command) {
    case 'start': {
      const config = loadOrExit(configFilePath(values.config));
      const { runMaster } = await import('../master/main.js');
      await runMaster(config);
      return -1;
    }
    case 'proxy': {
      loadOrExit(configFilePath(values.config));
      const { runProxy } = await import('../proxy/main.js');
      await runProxy(configFilePath(values.config));
      return -1;
    }
    case 'backend': {
      const port = integerFlag('port', values.port, 0, 65535);
      const slots = integerFlag('slots', values.slots, 1, 256);
      const queue = integerFlag('queue', values.queue, 0, 10_000);
      const { runBackend } = await import('../backend/server.js');
      const cacheMaxAge = integerFlag('cache-max-age', values['cache-max-age'], 0, 2 ** 31);
      await runBackend({ host: values.host, port, slots, queue, cacheMaxAge, tracing: backendTracing(values.otlp, values['trace-sample']) });
      return -1;
    }
    case 'check-config': {
      const file = configFilePath(rest[0] ?? values.config);
      const config = loadOrExit(file);
      const servers = [...config.upstreams.values()].reduce((n, u) => n + u.servers.length, 0);
      process.stdout.write(`${file}: valid (${config.routes.length} routes, ${config.upstreams.size} upstreams, ${servers} servers, ${config.pool.processes} local backends)\n`);
      return 0;
    }
    default:
      process.stderr.write(`portico: unknown command "${command}"\n\n${HELP}\n`);
      return 2;
  }
}

function loadOrExit(file: string) {
  try {
    return loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`portico: invalid config\n${err.message}\n`);
    process.exit(1);
  }
}

/**
 * A standalone backend traces when given --otlp, or when OTEL_EXPORTER_OTLP_ENDPOINT (or
 * _TRACES_ENDPOINT) is set, as OpenTelemetry SDKs do; OTEL_SDK_DISABLED=true turns it off.
 */
function backendTracing(otlp: string | undefined, sampleText: string): TracingConfig | undefined {
  const sample = Number(sampleText);
  if (sampleText.trim() === '' || !(sample >= 0 && sample <= 1)) {
    process.stderr.write(`portico: --trace-sample must be a number from 0 to 1, got "${sampleText}"\n`);
    process.exit(2);
  }
  if (otlp !== undefined && !/^https?:\/\/[^/]/.test(otlp)) {
    process.stderr.write(`portico: --otlp must be the collector's OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces, got "${otlp}"\n`);
    process.exit(2);
  }
  const env = process.env;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (otlp === undefined && !env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  return { otlp, sample };
}

function integerFlag(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    process.stderr.write(`portico: --${name} must be an integer from ${min} to ${max}, got "${text}"\n`);
    process.exit(2);
  }
  return value;
}

main(process.argv.slice(2)).then(
  (code) => { if (code >= 0) process.exitCode = code; },
  (err: Error) => {
    process.stderr.write(`portico: ${err.message}\n`);
    process.exit(1);
  },
);

/**
 * GET /metrics/all: the proxy's metrics and every backend's, in one
 * exposition, for users who can scrape one target only. Each sample gets a
 * `hop` label ("proxy" or "backend") and, for backends, `server`; families of
 * the same name (Node's process metrics, say) are merged so that each has one
 * HELP and one TYPE line, as the format requires.
 */

interface Family {
  help?: string;
  type?: string;
  samples: string[];
}

/**
 * @example mergeExpositions([{ text: proxyText, labels: { hop: 'proxy' } }, { text: backendText, labels: { hop: 'backend', server: 'http://127.0.0.1:4001' } }])
 */
export function mergeExpositions(sources: Array<{ text: string; labels: Record<string, string> }>): string {
  const families = new Map<string, Family>();
  for (const { text, labels } of sources) {
    const extra = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',');
    let current: Family | undefined;
    for (const line of text.split('\n')) {
      const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (meta) {
        const [, kind, name, rest] = meta as unknown as [string, 'HELP' | 'TYPE', string, string];
        current = families.get(name) ?? { samples: [] };
        families.set(name, current);
        if (kind === 'HELP') current.help ??= rest;
        else current.type ??= rest;
        continue;
      }
      if (!line || line.startsWith('#') || !current) continue;
      current.samples.push(withLabels(line, extra));
    }
  }
  const out: string[] = [];
  for (const [name, family] of families) {
    if (family.help !== undefined) out.push(`# HELP ${name} ${family.help}`);
    if (family.type !== undefined) out.push(`# TYPE ${name} ${family.type}`);
    out.push(...family.samples);
  }
  return `${out.join('\n')}\n`;
}

/** `name{a="1"} 5` + `hop="x"` → `name{hop="x",a="1"} 5`. */
function withLabels(sample: string, extra: string): string {
  if (!extra) return sample;
  const brace = sample.indexOf('{');
  const space = sample.indexOf(' ');
  if (brace >= 0 && brace < space) return `${sample.slice(0, brace + 1)}${extra},${sample.slice(brace + 1)}`;
  return `${sample.slice(0, space)}{${extra}}${sample.slice(space)}`;
}

/**
 * `${VAR}` and `${VAR:-default}` in the config text, from the environment, for
 * secrets and ports (as Docker Compose and Traefik's file provider do). `$${`
 * writes a literal `${`. A variable that is unset and has no default is an error.
 */

export interface Substitution {
  text: string;
  /** Offsets (in the original text) of variables with no value and no default. */
  missing: Array<{ name: string; offset: number }>;
}

/** @example substituteEnv('port: ${PORT:-8080}', {}) // { text: 'port: 8080', missing: [] } */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv = process.env): Substitution {
  const missing: Substitution['missing'] = [];
  const out = text.replace(/\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (match, name: string | undefined, fallback: string | undefined, offset: number) => {
    if (match === '$${') return '${';
    const value = env[name!];
    if (value !== undefined && value !== '') return value;
    if (fallback !== undefined) return fallback;
    missing.push({ name: name!, offset });
    return '';
  });
  return { text: out, missing };
}

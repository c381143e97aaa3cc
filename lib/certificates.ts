/**
 * Certificate files: read, check (PEM parses, key matches), and describe (the
 * names it serves, its expiry). Used by the config loader to refuse bad files
 * and by the TLS listener to build its contexts.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

export interface Certificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
  /** DNS names (and IP addresses) it is valid for, from its SAN (or CN when it has none). */
  names: string[];
  notAfter: Date;
  /** A short label for logs and metrics. */
  label: string;
}

/**
 * @throws Error saying what is wrong with which file.
 * @example const c = readCertificate('tls/site.pem', 'tls/site.key'); c.names // ['example.com', '*.example.com']
 */
export function readCertificate(certFile: string, keyFile: string): Certificate {
  const cert = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile, 'utf8');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`${certFile} is not a PEM certificate (${(err as Error).message})`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new Error(`${keyFile} is not a PEM private key (${(err as Error).message})`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new Error(`${keyFile} is not the key of ${certFile}`);
  const names = namesOf(x509);
  return { certFile, keyFile, cert, key, names, notAfter: new Date(x509.validTo), label: names[0] ?? basename(certFile) };
}

function namesOf(x509: X509Certificate): string[] {
  const san = x509.subjectAltName;
  if (san) {
    return san.split(', ').flatMap((entry) => {
      const [type, value] = entry.split(':', 2) as [string, string | undefined];
      if (type === 'DNS' && value) return [value.toLowerCase()];
      if (type === 'IP Address') return [entry.slice('IP Address:'.length).toLowerCase()];
      return [];
    });
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

/** Whether `servername` is covered by `name` (exact, or a `*.` wildcard of one label, RFC 6125 §6.4.3). */
export function nameMatches(name: string, servername: string): boolean {
  const host = servername.toLowerCase();
  if (!name.startsWith('*.')) return name === host;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === name.slice(2);
}

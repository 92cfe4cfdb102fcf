// The TCP API speaks TLS only. Without a certificate given, the daemon makes
// a self-signed one once (kept in its home) and clients pin it with BATON_TLS_CA.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeWhole } from '../secrets/index.js';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';

export interface TlsFiles {
  cert: string;
  key: string;
  certPath: string;
}

/** The given certificate and key, or the daemon's own self-signed pair (made on first use). */
export async function serverTls(home: string, listenHost: string, given?: { cert?: string; key?: string }): Promise<TlsFiles> {
  if (given?.cert || given?.key) {
    if (!given.cert || !given.key) throw new Error('--tls-cert and --tls-key go together');
    return { cert: readFileSync(given.cert, 'utf8'), key: readFileSync(given.key, 'utf8'), certPath: given.cert };
  }
  const dir = join(home, 'tls');
  const certPath = join(dir, 'server.crt');
  const keyPath = join(dir, 'server.key');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const names = new Set(['localhost', hostname()]);
    const ips = new Set(['127.0.0.1', '::1']);
    if (listenHost && listenHost !== '0.0.0.0' && listenHost !== '::') (isIP(listenHost) ? ips : names).add(listenHost);
    const notBeforeDate = new Date(Date.now() - 60_000);
    // selfsigned (and node-forge under it) only when a certificate must be made: once per home.
    const { generate } = await import('selfsigned');
    const pems = await generate([{ name: 'commonName', value: `baton ${hostname()}` }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate,
      notAfterDate: new Date(notBeforeDate.getTime() + 10 * 365 * 24 * 3600 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [...[...names].map((value) => ({ type: 2 as const, value })), ...[...ips].map((ip) => ({ type: 7 as const, ip }))] },
      ],
    });
    // The key first: a crash between the two leaves no certificate without its key.
    writeWhole(keyPath, pems.private, 0o600);
    writeWhole(certPath, pems.cert, 0o644);
  }
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), certPath };
}

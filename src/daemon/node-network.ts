// What every node runs for traffic, whether `baton daemon`/`manager` or
// `baton agent`: the mesh, the HTTP(S) ingress and its certificates.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertManager, HttpIngress, Mesh } from '../mesh/index.js';

export interface NodeNetworkOptions {
  home: string;
  /** Default $BATON_HTTP_PORT, else 80 as root and 8080 otherwise. */
  httpPort?: number;
  /** Default $BATON_HTTPS_PORT, else 443 as root and 8443 otherwise. */
  httpsPort?: number;
  /** ACME server for `x-baton.tls: acme` (default $BATON_ACME_DIRECTORY, else Let's Encrypt's production directory). */
  acmeDirectory?: string;
  /** Default $BATON_ACME_EMAIL. */
  acmeEmail?: string;
  /** PEM file to trust for the ACME server's own HTTPS (default $BATON_ACME_CA). */
  acmeCa?: string;
  log: (msg: string) => void;
}

export interface NodeNetwork {
  mesh: Mesh;
  certs: CertManager;
  /** One per node; it listens only while some service has a domain. */
  ingress: HttpIngress;
}

export function nodeNetwork(opts: NodeNetworkOptions): NodeNetwork {
  const { log } = opts;
  const email = opts.acmeEmail ?? process.env.BATON_ACME_EMAIL;
  const ca = opts.acmeCa ?? process.env.BATON_ACME_CA;
  const certs = new CertManager({
    dir: join(opts.home, 'certs'),
    acme: {
      directoryUrl: opts.acmeDirectory ?? process.env.BATON_ACME_DIRECTORY ?? 'https://acme-v02.api.letsencrypt.org/directory',
      ...(email ? { email } : {}),
      ...(ca ? { serverCa: readFileSync(ca, 'utf8') } : {}),
    },
    log,
  });
  const ingress = new HttpIngress({
    port: opts.httpPort ?? defaultPort('BATON_HTTP_PORT', 80, 8080),
    httpsPort: opts.httpsPort ?? defaultPort('BATON_HTTPS_PORT', 443, 8443),
    certificate: (name) => certs.context(name),
    acmeChallenge: (token) => certs.challenge(token),
    log,
  });
  return { mesh: new Mesh({ log }), certs, ingress };
}

function defaultPort(envName: string, asRoot: number, otherwise: number): number {
  const env = Number(process.env[envName]);
  if (Number.isInteger(env) && env > 0 && env < 65536) return env;
  return process.getuid?.() === 0 ? asRoot : otherwise;
}

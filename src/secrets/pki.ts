// The cluster's certificate authority: it signs each node's certificate when
// the node joins, and from then on managers and agents speak mutual TLS only.
// Node keys are made on the node and never leave it: the node sends a CSR.
import { createHash, createPrivateKey, KeyObject, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';
import { writeWhole } from './box.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/**
 * @peculiar/x509 is loaded only where certificates are made (a manager's CA,
 * a joining node's CSR): a lone daemon never needs it, and it is large.
 * Reading certificates uses node:crypto's X509Certificate.
 */
let x509: typeof X509;
let loading: Promise<void> | undefined;
function loadX509(): Promise<void> {
  return (loading ??= import('@peculiar/x509').then((m) => {
    m.cryptoProvider.set(webcrypto as unknown as Parameters<typeof m.cryptoProvider.set>[0]);
    x509 = m;
  }));
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 3600 * 1000;
const CA_LIFETIME = 20 * 365 * DAY;
const NODE_LIFETIME = 5 * 365 * DAY;

export type NodeRole = 'manager' | 'worker';

/** A certificate request, or a certificate, that is not what it claims. */
export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

export interface KeyPair {
  keyPem: string;
  certPem: string;
}

/** The CA a manager keeps in its home: `ca.crt` (public) and `ca.key` (0600). */
export class ClusterCa {
  private constructor(readonly certPem: string, private readonly cert: X509.X509Certificate, private readonly key: CryptoKey) {}

  /** Loads the CA from `dir`, or makes one for a new cluster (id in the subject's O). */
  static async openOrCreate(dir: string): Promise<ClusterCa> {
    await loadX509();
    const certPath = join(dir, 'ca.crt');
    const keyPath = join(dir, 'ca.key');
    if (!existsSync(certPath) || !existsSync(keyPath)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
      const clusterId = randomBytes(8).toString('hex');
      const notBefore = new Date(Date.now() - 60_000);
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: randomBytes(8).toString('hex'),
        name: `CN=baton cluster CA, O=${clusterId}`,
        notBefore,
        notAfter: new Date(notBefore.getTime() + CA_LIFETIME),
        signingAlgorithm: ALG,
        keys,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
      });
      // The key first: a crash between the two leaves no CA certificate without its key.
      writeWhole(keyPath, await exportKey(keys.privateKey), 0o600);
      writeWhole(certPath, cert.toString('pem'), 0o644);
    }
    const certPem = readFileSync(certPath, 'utf8');
    const key = await importKey(readFileSync(keyPath, 'utf8'));
    return new ClusterCa(certPem, new x509.X509Certificate(certPem), key);
  }

  /** The cluster id: the O of the CA's subject, repeated in every node certificate. */
  get clusterId(): string {
    return subjectField(this.cert.subject, 'O') ?? '';
  }

  /** sha256 of the CA certificate (DER), hex: what a join token carries so a joining node can trust the manager. */
  get fingerprint(): string {
    return caFingerprint(this.certPem);
  }

  /** Signs a node's CSR: CN = node id, OU = role, O = cluster id. The CSR's own subject is ignored. */
  async issue(csrPem: string, nodeId: string, role: NodeRole, altNames: { ips?: string[]; dns?: string[] } = {}): Promise<string> {
    await loadX509();
    let csr: X509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch {
      throw new CertificateError('csr: not a PEM certificate request');
    }
    if (!(await csr.verify())) throw new CertificateError('csr: its signature does not match its key');
    const notBefore = new Date(Date.now() - 60_000);
    const names: X509.JsonGeneralName[] = [
      ...(altNames.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(altNames.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ];
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomBytes(8).toString('hex'),
      subject: `CN=${nodeId}, OU=${role}, O=${this.clusterId}`,
      issuer: this.cert.subject,
      notBefore,
      notAfter: new Date(notBefore.getTime() + NODE_LIFETIME),
      signingAlgorithm: ALG,
      publicKey: csr.publicKey,
      signingKey: this.key,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
      ],
    });
    return cert.toString('pem');
  }
}

/** A fresh key and a CSR for it, made on the joining node. */
export async function makeCsr(): Promise<{ keyPem: string; csrPem: string }> {
  await loadX509();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=baton node', keys, signingAlgorithm: ALG });
  return { keyPem: await exportKey(keys.privateKey), csrPem: csr.toString('pem') };
}

export function caFingerprint(certPem: string): string {
  return createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex');
}

/** Who a node certificate says it is. */
export function certIdentity(certPem: string): { nodeId: string; role: string; clusterId: string } {
  // node:crypto gives the subject one "KEY=value" per line.
  const fields = new Map(new X509Certificate(certPem).subject.split('\n').map((l): [string, string] => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { nodeId: fields.get('CN') ?? '', role: fields.get('OU') ?? '', clusterId: fields.get('O') ?? '' };
}

function subjectField(subject: string, field: string): string | undefined {
  const m = new RegExp(`(?:^|,\\s*)${field}=([^,]+)`).exec(subject);
  return m?.[1];
}

async function exportKey(key: CryptoKey): Promise<string> {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

async function importKey(pem: string): Promise<CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' }), ALG, false, ['sign']);
}

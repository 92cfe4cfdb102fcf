/**
 * Certificates for the HTTPS ingress: a certificate given by the user, or one
 * issued by an ACME server (Let's Encrypt in production, pebble in tests)
 * through HTTP-01 challenges that the HTTP ingress answers. Issued ones are
 * kept in a folder (key 0600) and renewed when less than `renewBeforeMs` is
 * left; renewal is checked on `ensure` and every hour.
 */
import https from 'node:https';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as Acme from 'acme-client';

type AcmeModule = typeof Acme;
let acmeModule: Promise<AcmeModule> | undefined;
/** acme-client (and the HTTP client under it) is loaded the first time a certificate is issued: most daemons never do. */
const loadAcme = (): Promise<AcmeModule> => (acmeModule ??= import('acme-client'));

export interface AcmeOptions {
  directoryUrl: string;
  email?: string;
  /** PEM to trust for the ACME server's own HTTPS (a test server's root). */
  serverCa?: string;
}

/** Where a domain's certificate comes from. */
export type CertSource = { kind: 'acme' } | { kind: 'file'; cert: string; key: string };

interface Held {
  context: tls.SecureContext;
  notAfter: number;
  source: CertSource;
}

const DAY = 24 * 3600 * 1000;

export class CertManager {
  private readonly held = new Map<string, Held>();
  private readonly challenges = new Map<string, string>();
  private readonly pending = new Map<string, Promise<void>>();
  /** After a failed issuance, when the next try may start (backing off), so routes applied often do not hammer the server. */
  private readonly retryAt = new Map<string, { at: number; delayMs: number }>();
  private client: Acme.Client | undefined;
  private readonly timer: NodeJS.Timeout;
  /** Why a domain has no certificate (the last failure), for status and logs. */
  readonly errors = new Map<string, string>();

  constructor(
    private readonly opts: { dir: string; acme?: AcmeOptions; renewBeforeMs?: number; log?: (m: string) => void },
  ) {
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    this.timer = setInterval(() => void this.renewDue(), 3600_000);
    this.timer.unref();
  }

  /** The certificate to present for a server name (SNI), exact or by a wildcard certificate. */
  context(servername: string): tls.SecureContext | undefined {
    const exact = this.held.get(servername);
    if (exact) return exact.context;
    const dot = servername.indexOf('.');
    return dot > 0 ? this.held.get(`*${servername.slice(dot)}`)?.context : undefined;
  }

  /** The key authorization for an HTTP-01 token being validated now. */
  challenge(token: string): string | undefined {
    return this.challenges.get(token);
  }

  /** Makes sure each domain has a certificate from its source; issues the missing ACME ones in the background. */
  ensure(domains: Map<string, CertSource>): void {
    for (const [domain, source] of domains) {
      const cur = this.held.get(domain);
      if (cur && sameSource(cur.source, source) && cur.notAfter - Date.now() > this.renewBefore()) continue;
      if (source.kind === 'file') {
        try {
          this.hold(domain, source.cert, source.key, source);
        } catch (err) {
          this.fail(domain, (err as Error).message);
        }
        continue;
      }
      const stored = this.load(domain);
      if (stored && stored.notAfter - Date.now() > this.renewBefore()) {
        this.hold(domain, stored.cert, stored.key, source);
        continue;
      }
      if (stored && !cur) this.hold(domain, stored.cert, stored.key, source); // serve the old one while renewing
      if ((this.retryAt.get(domain)?.at ?? 0) > Date.now()) continue;
      void this.issue(domain);
    }
  }

  /** Resolves once issuance under way for these domains has ended (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.pending.values()]);
  }

  close(): void {
    clearInterval(this.timer);
  }

  private renewBefore(): number {
    return this.opts.renewBeforeMs ?? 30 * DAY;
  }

  private hold(domain: string, cert: string, key: string, source: CertSource): void {
    const notAfter = Date.parse(new X509Certificate(cert).validTo);
    this.held.set(domain, { context: tls.createSecureContext({ cert, key }), notAfter, source });
    this.errors.delete(domain);
  }

  private fail(domain: string, message: string): void {
    this.errors.set(domain, message);
    this.opts.log?.(`certificate for ${domain}: ${message}`);
  }

  private paths(domain: string): { cert: string; key: string } {
    const safe = domain.replace(/\*/g, '_wildcard');
    return { cert: join(this.opts.dir, `${safe}.crt`), key: join(this.opts.dir, `${safe}.key`) };
  }

  private load(domain: string): { cert: string; key: string; notAfter: number } | undefined {
    const p = this.paths(domain);
    if (!existsSync(p.cert) || !existsSync(p.key)) return undefined;
    try {
      const cert = readFileSync(p.cert, 'utf8');
      return { cert, key: readFileSync(p.key, 'utf8'), notAfter: Date.parse(new X509Certificate(cert).validTo) };
    } catch {
      return undefined;
    }
  }

  private async acmeClient(): Promise<Acme.Client> {
    const a = this.opts.acme;
    if (!a) throw new Error('no ACME server is configured (baton daemon --acme-directory URL)');
    if (this.client) return this.client;
    const acme = await loadAcme();
    if (a.serverCa) acme.axios.defaults.httpsAgent = new https.Agent({ ca: a.serverCa });
    const keyPath = join(this.opts.dir, 'account.key');
    if (!existsSync(keyPath)) writeWhole(keyPath, (await acme.crypto.createPrivateEcdsaKey()).toString());
    this.client = new acme.Client({ directoryUrl: a.directoryUrl, accountKey: readFileSync(keyPath) });
    return this.client;
  }

  private issue(domain: string): Promise<void> {
    const running = this.pending.get(domain);
    if (running) return running;
    const job = (async () => {
      try {
        const client = await this.acmeClient();
        const acme = await loadAcme();
        const [key, csr] = await acme.crypto.createCsr({ commonName: domain, altNames: [domain] }, await acme.crypto.createPrivateEcdsaKey());
        const cert = await client.auto({
          csr,
          email: this.opts.acme?.email,
          termsOfServiceAgreed: true,
          challengePriority: ['http-01'],
          // The HTTP ingress serves the token; the ACME server checks it from outside.
          skipChallengeVerification: true,
          challengeCreateFn: async (_a, challenge, keyAuthorization) => void this.challenges.set(challenge.token, keyAuthorization),
          challengeRemoveFn: async (_a, challenge) => void this.challenges.delete(challenge.token),
        });
        const p = this.paths(domain);
        // The key first: a certificate on disk always has its key.
        writeWhole(p.key, key.toString());
        writeWhole(p.cert, cert);
        this.hold(domain, cert, key.toString(), { kind: 'acme' });
        this.retryAt.delete(domain);
        this.opts.log?.(`certificate for ${domain} issued by ${this.opts.acme?.directoryUrl}`);
      } catch (err) {
        const delayMs = Math.min(6 * 3600_000, (this.retryAt.get(domain)?.delayMs ?? 30_000) * 2);
        this.retryAt.set(domain, { at: Date.now() + delayMs, delayMs });
        this.fail(domain, `ACME: ${(err as Error).message} (next try in ${Math.round(delayMs / 1000)} s)`);
      } finally {
        this.pending.delete(domain);
      }
    })();
    this.pending.set(domain, job);
    return job;
  }

  private async renewDue(): Promise<void> {
    for (const [domain, h] of this.held) {
      if (h.source.kind === 'acme' && h.notAfter - Date.now() <= this.renewBefore()) await this.issue(domain);
    }
  }
}

function sameSource(a: CertSource, b: CertSource): boolean {
  return a.kind === b.kind && (a.kind === 'acme' || (b.kind === 'file' && a.cert === b.cert && a.key === b.key));
}

function writeWhole(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

// A manager's cluster identity: its CA, the cluster record in the store and
// the join tokens. Tokens look like Swarm's: BATON-1-<CA fingerprint>-<secret>;
// the fingerprint lets a joining node trust the manager before it has a
// certificate, the secret decides the role it joins with.
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { ClusterRecord } from '../model/types.js';
import { now } from '../model/time.js';
import type { JoinRole } from '../api/cluster-server.js';
import { ClusterCa, makeCsr, type SecretBox } from '../secrets/index.js';
import type { Store } from '../store/store.js';
import { ConflictError } from '../store/store.js';

const KEY = 'cluster';
const TOKEN = /^BATON-1-([0-9a-f]{64})-([A-Za-z0-9_-]{20,})$/;

/** A join token that is not even shaped like one. */
export class JoinTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JoinTokenError';
  }
}

export function parseJoinToken(token: string): { fingerprint: string; secret: string } {
  const m = TOKEN.exec(token.trim());
  if (!m) throw new JoinTokenError('--token: not a baton join token (expected BATON-1-<fingerprint>-<secret>, as printed by baton join-token worker)');
  return { fingerprint: m[1], secret: m[2] };
}

export class ClusterIdentity {
  private constructor(readonly ca: ClusterCa, private readonly store: Store, private readonly box: SecretBox) {}

  static async open(home: string, store: Store, box: SecretBox): Promise<ClusterIdentity> {
    const ca = await ClusterCa.openOrCreate(join(home, 'ca'));
    const id = new ClusterIdentity(ca, store, box);
    if (!(await store.get('cluster', KEY))) {
      const rec: ClusterRecord = { id: ca.clusterId, caFingerprint: ca.fingerprint, tokens: { worker: id.sealSecret('worker'), manager: id.sealSecret('manager') }, createdAt: now() };
      try {
        await store.commit([{ type: 'put', kind: 'cluster', key: KEY, value: rec, expect: 0 }]);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    return id;
  }

  get clusterId(): string {
    return this.ca.clusterId;
  }

  /** The current join token for a role; `rotate` replaces it first, so the old one no longer lets anyone in. */
  async joinToken(role: JoinRole, rotate = false): Promise<string> {
    for (let i = 0; i < 10; i++) {
      const cur = await this.store.get('cluster', KEY);
      if (!cur) throw new Error('the cluster record is missing from the store');
      if (!rotate) return this.format(this.openSecret(cur.value, role));
      const tokens = { ...cur.value.tokens, [role]: this.sealSecret(role) };
      try {
        await this.store.commit([{ type: 'put', kind: 'cluster', key: KEY, value: { ...cur.value, tokens, rotatedAt: now() }, expect: cur.version }]);
        await this.store.appendEvents([{ type: 'cluster.rotate', message: `the ${role} join token was rotated` }]);
        return this.format(this.openSecret({ ...cur.value, tokens }, role));
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    throw new Error('could not rotate the join token: too many concurrent changes');
  }

  /** The role a presented token grants, compared in constant time; undefined when it is not current. */
  async tokenRole(token: string): Promise<JoinRole | undefined> {
    let parsed: { fingerprint: string; secret: string };
    try {
      parsed = parseJoinToken(token);
    } catch {
      return undefined;
    }
    if (parsed.fingerprint !== this.ca.fingerprint) return undefined;
    const cur = await this.store.get('cluster', KEY);
    if (!cur) return undefined;
    const given = sha(parsed.secret);
    for (const role of ['worker', 'manager'] as const) {
      if (timingSafeEqual(given, sha(this.openSecret(cur.value, role)))) return role;
    }
    return undefined;
  }

  /** A fresh certificate for the manager's own node port, from its CA (OU=manager, which agents check). */
  async managerCert(nodeId: string, listenHost: string): Promise<{ cert: string; key: string }> {
    const { keyPem, csrPem } = await makeCsr();
    const ips = new Set(['127.0.0.1']);
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4') ips.add(a.address);
    if (listenHost && listenHost !== '0.0.0.0') ips.add(listenHost);
    const cert = await this.ca.issue(csrPem, nodeId, 'manager', { ips: [...ips], dns: ['localhost', hostname()] });
    return { cert, key: keyPem };
  }

  private format(secret: string): string {
    return `BATON-1-${this.ca.fingerprint}-${secret}`;
  }

  private sealSecret(role: JoinRole): ClusterRecord['tokens']['worker'] {
    return this.box.seal(Buffer.from(randomBytes(18).toString('base64url')), `cluster/token/${role}`);
  }

  private openSecret(rec: ClusterRecord, role: JoinRole): string {
    return this.box.open(rec.tokens[role], `cluster/token/${role}`).toString('utf8');
  }
}

function sha(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

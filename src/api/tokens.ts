// API tokens: "btk_<id>_<secret>". The store keeps only a hash of the secret,
// so a copy of the store does not let anyone in.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ApiToken, Role } from '../model/types.js';
import { now } from '../model/time.js';
import type { Store } from '../store/store.js';
import { ApiError, badRequest, notFound } from './errors.js';
import { ROLES } from './routes.js';

const sha = (s: string): Buffer => createHash('sha256').update(s).digest();
const TOKEN = /^btk_([a-f0-9]{12})_([A-Za-z0-9_-]{20,})$/;

export type TokenSummary = Omit<ApiToken, 'hash'>;

export async function createToken(store: Store, body: { role?: unknown; name?: unknown }): Promise<TokenSummary & { token: string }> {
  if (typeof body.role !== 'string' || !(ROLES as readonly string[]).includes(body.role)) throw badRequest(`role: expected one of ${ROLES.join(', ')}`);
  const name = typeof body.name === 'string' ? body.name : '';
  if (name.length > 64) throw badRequest('name: at most 64 characters');
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  const t: ApiToken = { id, name, role: body.role as Role, hash: sha(secret).toString('hex'), createdAt: now() };
  await store.commit([{ type: 'put', kind: 'token', key: id, value: t, expect: 0 }]);
  await store.appendEvents([{ type: 'token.create', message: `token ${id} created with role ${t.role}` }]);
  const { hash: _h, ...shown } = t;
  return { ...shown, token: `btk_${id}_${secret}` };
}

export async function listTokens(store: Store): Promise<TokenSummary[]> {
  return (await store.list('token')).map(({ value: { hash: _h, ...shown } }) => shown);
}

export async function removeToken(store: Store, id: string): Promise<{ removed: string }> {
  const cur = await store.get('token', id);
  if (!cur) throw notFound(`token "${id}"`);
  await store.commit([{ type: 'delete', kind: 'token', key: id, expect: cur.version }]);
  await store.appendEvents([{ type: 'token.remove', message: `token ${id} removed` }]);
  return { removed: id };
}

/** A client certificate the daemon's client CA signed: its role is the subject's OU (viewer when it names none). */
function clientCertRole(req: IncomingMessage): Role | undefined {
  const sock = req.socket as TLSSocket;
  if (typeof sock.getPeerCertificate !== 'function' || !sock.authorized) return undefined;
  const cert = sock.getPeerCertificate();
  if (!cert || !cert.subject) return undefined;
  const ou = cert.subject.OU;
  const role = Array.isArray(ou) ? ou[0] : ou;
  if (role === undefined) return 'viewer';
  if (!(ROLES as readonly string[]).includes(role)) throw new ApiError(403, 'forbidden', `client certificate role (OU) "${role}" is not one of ${ROLES.join(', ')}`);
  return role as Role;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The role of a request on the TCP listener: the daemon's own token (given
 * at start) is admin; otherwise a stored token. No token or a wrong one: 401.
 */
export async function roleOf(req: IncomingMessage, store: Store, daemonToken: string): Promise<Role> {
  const h = req.headers.authorization ?? '';
  const given = h.startsWith('Bearer ') ? h.slice(7).trim() : '';
  if (!given) {
    const certRole = clientCertRole(req);
    if (certRole) return certRole;
    throw new ApiError(401, 'unauthorized', 'a bearer token (or a client certificate) is required');
  }
  if (daemonToken && sameBytes(sha(given), sha(daemonToken))) return 'admin';
  const m = TOKEN.exec(given);
  if (m) {
    const t = await store.get('token', m[1]);
    if (t && sameBytes(sha(m[2]), Buffer.from(t.value.hash, 'hex'))) return t.value.role;
  }
  throw new ApiError(401, 'unauthorized', 'the bearer token is not valid');
}

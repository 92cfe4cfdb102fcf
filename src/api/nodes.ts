// `baton node inspect|update|rm`: a node named by id, id prefix or hostname, as Swarm allows.
import type { NodeInfo } from '../model/types.js';
import type { Store, Versioned } from '../store/store.js';
import { ApiError, badRequest, notFound } from './errors.js';
import type { NodeUpdateRequest } from './types.js';

const AVAILABILITY = ['active', 'pause', 'drain'] as const;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;

export async function findNode(store: Store, ref: string): Promise<Versioned<NodeInfo>> {
  const all = await store.list('node');
  const byId = all.find((v) => v.value.id === ref);
  if (byId) return byId;
  const byHostname = all.filter((v) => v.value.hostname === ref);
  const matches = byHostname.length > 0 ? byHostname : all.filter((v) => v.value.id.startsWith(ref));
  if (matches.length === 0) throw notFound(`node "${ref}"`);
  if (matches.length > 1) throw badRequest(`node "${ref}" is ambiguous: ${matches.map((v) => `${v.value.id} (${v.value.hostname})`).join(', ')}`);
  return matches[0];
}

export async function updateNode(store: Store, ref: string, req: NodeUpdateRequest): Promise<NodeInfo> {
  if (req.availability !== undefined && !(AVAILABILITY as readonly string[]).includes(req.availability)) {
    throw badRequest(`availability: expected one of ${AVAILABILITY.join(', ')}, got "${String(req.availability)}"`);
  }
  if (req.role !== undefined && req.role !== 'manager' && req.role !== 'worker') throw badRequest(`role: expected manager or worker, got "${String(req.role)}"`);
  for (const k of [...Object.keys(req.labelAdd ?? {}), ...(req.labelRm ?? [])]) {
    if (!LABEL_KEY.test(k)) throw badRequest(`label "${k}": a key is letters, digits and . _ / - (at most 128)`);
  }
  for (const [k, v] of Object.entries(req.labelAdd ?? {})) if (typeof v !== 'string') throw badRequest(`label "${k}": the value must be a string`);
  const cur = await findNode(store, ref);
  const labels = { ...cur.value.labels, ...(req.labelAdd ?? {}) };
  for (const k of req.labelRm ?? []) {
    if (!(k in cur.value.labels)) throw badRequest(`label "${k}" is not set on node ${cur.value.hostname}`);
    delete labels[k];
  }
  const next: NodeInfo = { ...cur.value, labels, availability: req.availability ?? cur.value.availability, role: req.role ?? cur.value.role };
  await store.commit([{ type: 'put', kind: 'node', key: cur.key, value: next, expect: cur.version }]);
  const what = [req.availability && `availability ${req.availability}`, req.role && `role ${req.role}`, Object.keys(req.labelAdd ?? {}).length > 0 && `labels +${Object.keys(req.labelAdd!).join(',')}`, (req.labelRm ?? []).length > 0 && `labels -${req.labelRm!.join(',')}`].filter(Boolean);
  await store.appendEvents([{ type: 'node.update', node: next.id, message: `node ${next.hostname} updated: ${what.join('; ') || 'nothing'}` }]);
  return next;
}

/** Removes a node; its certificate is refused from then on. A node still up needs `force`, as in Swarm. */
export async function removeNode(store: Store, ref: string, force: boolean, self: string | undefined): Promise<{ removed: string }> {
  const cur = await findNode(store, ref);
  if (cur.value.id === self) throw new ApiError(400, 'self', `node ${cur.value.hostname} is the one this manager runs on; it cannot remove itself`);
  if (cur.value.state === 'ready' && !force) {
    throw new ApiError(409, 'node_ready', `node ${cur.value.hostname} (${cur.value.id}) is ready; stop its agent first, or use --force to remove it anyway (its tasks are moved)`);
  }
  await store.commit([{ type: 'delete', kind: 'node', key: cur.key, expect: cur.version }]);
  await store.appendEvents([{ type: 'node.remove', node: cur.value.id, message: `node ${cur.value.hostname} (${cur.value.id}) removed from the cluster` }]);
  return { removed: cur.value.id };
}

// What agents ask of the store, whether they live in the manager's process
// (LocalControlPlane) or on another machine (the cluster API): one set of
// rules for both, so a remote agent can do no more than a local one.
import type { ClusterView, NodeInfo, SealedValue, Service, Task, TaskFileRef, TaskReport } from '../model/types.js';
import { keys } from '../model/keys.js';
import { registryOf, type RegistryAuth } from '../model/image-ref.js';
import { now } from '../model/time.js';
import { isRoutable } from '../model/task.js';
import type { Op, Store, WatchEvent } from '../store/store.js';
import { ConflictError } from '../store/store.js';

const MAX_TRIES = 20;

/** A node's own account of itself; what an admin set (labels, availability, role) is kept. */
export async function registerNode(store: Store, node: NodeInfo): Promise<void> {
  for (let i = 0; i < MAX_TRIES; i++) {
    const cur = await store.get('node', keys.node(node.id));
    const value: NodeInfo = cur
      ? { ...cur.value, ...node, labels: { ...node.labels, ...cur.value.labels }, availability: cur.value.availability, role: cur.value.role, joinedAt: cur.value.joinedAt, state: 'ready', message: undefined }
      : node;
    try {
      await store.commit([{ type: 'put', kind: 'node', key: keys.node(node.id), value, expect: cur?.version ?? 0 }]);
      if (cur?.value.state === 'down') await store.appendEvents([{ type: 'node.ready', node: node.id, message: `node ${node.hostname} (${node.id}) is ready${cur.value.message?.startsWith('joined') ? '' : ' again'}` }]);
      return;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
}

/** Returns false when the node is not (or no longer) a member. */
export async function heartbeatNode(store: Store, nodeId: string): Promise<boolean> {
  for (let i = 0; i < MAX_TRIES; i++) {
    const cur = await store.get('node', keys.node(nodeId));
    if (!cur) return false;
    const back = cur.value.state === 'down';
    try {
      await store.commit([{ type: 'put', kind: 'node', key: cur.key, value: { ...cur.value, heartbeatAt: now(), state: 'ready', message: undefined }, expect: cur.version }]);
      if (back) await store.appendEvents([{ type: 'node.ready', node: nodeId, message: `node ${cur.value.hostname} (${nodeId}) is ready again` }]);
      return true;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  return true;
}

/**
 * Merges observed fields onto the stored tasks; retried on conflict, never
 * touching desired state. With `fromNode`, reports on tasks assigned to
 * another node are ignored: a node speaks only for what it runs.
 */
export async function reportTasks(store: Store, reports: TaskReport[], fromNode?: string): Promise<void> {
  for (let i = 0; i < MAX_TRIES; i++) {
    const ops: Op[] = [];
    const merged = new Map<string, { key: string; value: Task; version: number }>();
    for (const r of reports) {
      const key = keys.task(r.task);
      let entry = merged.get(key);
      if (!entry) {
        const cur = await store.get('task', key);
        if (!cur) continue; // removed meanwhile: nothing to report on
        if (fromNode !== undefined && cur.value.node !== fromNode) continue;
        entry = { key, value: cur.value, version: cur.version };
        merged.set(key, entry);
      }
      const firstHealthy = r.observed.health === 'healthy' && !entry.value.healthyAt;
      entry.value = { ...entry.value, ...r.observed, updatedAt: now() };
      if (firstHealthy) entry.value.healthyAt = entry.value.updatedAt;
    }
    for (const e of merged.values()) ops.push({ type: 'put', kind: 'task', key: e.key, value: e.value, expect: e.version });
    if (ops.length === 0) return;
    try {
      await store.commit(ops);
      return;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  throw new Error(`could not record task reports after ${MAX_TRIES} conflicting writes`);
}

/** Everything an agent needs, read at one store revision. */
export async function readView(store: Store): Promise<ClusterView> {
  const revision = await store.revision();
  const [services, tasks, projects, nodes] = await Promise.all([store.list('service'), store.list('task'), store.list('project'), store.list('node')]);
  return {
    revision,
    services: services.map((v) => v.value),
    tasks: tasks.map((v) => v.value),
    projects: projects.map((v) => v.value),
    nodes: nodes.map((v) => v.value),
  };
}

/**
 * What one node needs of a view: its own tasks, and the tasks it may route
 * to (running, with ports). A large cluster's hollow or portless tasks stay
 * out of every other node's view.
 */
export function viewFor(v: ClusterView, nodeId: string): ClusterView {
  return { ...v, tasks: v.tasks.filter((t) => t.node === nodeId || (t.ports.length > 0 && t.desiredState === 'running' && isRoutable(t))) };
}

/**
 * `viewFor` for many nodes from one view: the tasks are sorted out once
 * (routable ones, and the others by node) instead of filtered again for
 * every node, which a manager serving thousands of agents cannot afford.
 * Each node's tasks are the same, in the same order, as `viewFor` gives.
 */
export function viewCutter(v: ClusterView): (nodeId: string) => ClusterView {
  const routable: number[] = [];
  const own = new Map<string, number[]>();
  v.tasks.forEach((t, i) => {
    if (t.ports.length > 0 && t.desiredState === 'running' && isRoutable(t)) routable.push(i);
    else if (t.node !== undefined) {
      const list = own.get(t.node);
      if (list) list.push(i);
      else own.set(t.node, [i]);
    }
  });
  return (nodeId) => {
    const mine = own.get(nodeId) ?? [];
    const tasks: Task[] = [];
    // Both index lists ascend: merged, they keep the view's order.
    let a = 0;
    let b = 0;
    while (a < mine.length || b < routable.length) {
      if (b === routable.length || (a < mine.length && mine[a] < routable[b])) tasks.push(v.tasks[mine[a++]]);
      else tasks.push(v.tasks[routable[b++]]);
    }
    return { ...v, tasks };
  };
}

/** The kinds whose changes make a new view. */
export const VIEW_KINDS: ReadonlySet<string> = new Set(['task', 'service', 'project', 'node']);

export interface FileValue {
  ref: TaskFileRef;
  content: Buffer;
}

/** The values of a service's secrets and configs at the versions it names; `open` decrypts a secret. */
export async function serviceFiles(store: Store, svc: Service, open: (sealed: SealedValue, key: string) => Buffer): Promise<FileValue[]> {
  const out: FileValue[] = [];
  for (const ref of svc.files ?? []) {
    if (ref.kind === 'secret') {
      const rec = await store.get('secret', ref.key);
      if (!rec) throw new Error(`secret "${ref.source}" (version ${ref.key}) is no longer stored`);
      out.push({ ref, content: open(rec.value.sealed, ref.key) });
    } else {
      const rec = await store.get('config', ref.key);
      if (!rec) throw new Error(`config "${ref.source}" (version ${ref.key}) is no longer stored`);
      out.push({ ref, content: Buffer.from(rec.value.data, 'base64') });
    }
  }
  return out;
}

/** The seal label of a project's registry credentials: a sealed value opens only under its own label. */
export const registryAuthLabel = (project: string): string => `registry-auth/${project}`;

/** The credentials a deploy of this project sent for the registry of `image`, or undefined. */
export async function projectRegistryAuth(store: Store, project: string, image: string, open: (sealed: SealedValue, label: string) => Buffer): Promise<RegistryAuth | undefined> {
  const rec = await store.get('registryAuth', keys.registryAuth(project));
  const registry = registryOf(image);
  if (!rec || !rec.value.registries.includes(registry)) return undefined;
  const all = JSON.parse(open(rec.value.sealed, registryAuthLabel(project)).toString('utf8')) as Record<string, RegistryAuth>;
  return all[registry];
}

/**
 * Tells node writes an agent must act on (state, address, availability,
 * labels) from heartbeats, so heartbeats do not rebuild every agent's view.
 */
export class NodeChanges {
  private readonly last = new Map<string, string>();

  changed(e: WatchEvent): boolean {
    if (e.type === 'delete') {
      this.last.delete(e.key);
      return true;
    }
    const n = e.value as NodeInfo;
    const sig = JSON.stringify([n.state, n.address, n.availability, n.labels, n.engineLabels, n.role, n.drivers]);
    if (this.last.get(e.key) === sig) return false;
    this.last.set(e.key, sig);
    return true;
  }
}

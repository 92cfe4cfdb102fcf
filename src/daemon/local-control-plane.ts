import type { ControlPlane, NodeView, TaskFile, TaskReport } from '../agent/control-plane.js';
import type { EventInput, NodeInfo, Project, Service, Task } from '../model/types.js';
import type { SecretBox } from '../secrets/index.js';
import { keys } from '../model/keys.js';
import { now } from '../model/time.js';
import type { Op, Store } from '../store/store.js';
import { ConflictError } from '../store/store.js';

const MAX_TRIES = 20;

/** The agent's link to the control plane when both live in one process: the store itself. */
export class LocalControlPlane implements ControlPlane {
  constructor(private readonly store: Store, private readonly box: SecretBox) {}

  async register(node: NodeInfo): Promise<void> {
    const cur = await this.store.get('node', keys.node(node.id));
    const value = cur ? { ...cur.value, ...node, labels: cur.value.labels, availability: cur.value.availability } : node;
    await this.store.commit([{ type: 'put', kind: 'node', key: keys.node(node.id), value }]);
  }

  async heartbeat(nodeId: string): Promise<void> {
    for (let i = 0; i < MAX_TRIES; i++) {
      const cur = await this.store.get('node', keys.node(nodeId));
      if (!cur) return;
      try {
        await this.store.commit([{ type: 'put', kind: 'node', key: cur.key, value: { ...cur.value, heartbeatAt: now(), state: 'ready' }, expect: cur.version }]);
        return;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
  }

  async subscribe(onView: (v: NodeView) => void): Promise<() => void> {
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const build = async (): Promise<void> => {
      timer = undefined;
      if (closed) return;
      const services = new Map<string, Service>();
      for (const v of await this.store.list('service')) services.set(v.value.id, v.value);
      const tasks = (await this.store.list('task')).map((v) => v.value);
      const projects = new Map<string, Project>();
      for (const v of await this.store.list('project')) projects.set(v.value.name, v.value);
      if (!closed) onView({ tasks, services, projects });
    };
    const rev = await this.store.revision();
    const unwatch = this.store.watch(rev, (events) => {
      if (!events.some((e) => e.kind === 'task' || e.kind === 'service' || e.kind === 'project')) return;
      if (!timer) timer = setTimeout(() => void build(), 3);
    });
    await build();
    return () => {
      closed = true;
      unwatch();
      if (timer) clearTimeout(timer);
    };
  }

  /** Merges observed fields onto the stored tasks; retried on conflict, never touching desired state. */
  async report(reports: TaskReport[]): Promise<void> {
    for (let i = 0; i < MAX_TRIES; i++) {
      const ops: Op[] = [];
      const merged = new Map<string, { key: string; value: Task; version: number }>();
      for (const r of reports) {
        const key = keys.task(r.task);
        let entry = merged.get(key);
        if (!entry) {
          const cur = await this.store.get('task', key);
          if (!cur) continue; // removed meanwhile: nothing to report on
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
        await this.store.commit(ops);
        return;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    throw new Error(`could not record task reports after ${MAX_TRIES} conflicting writes`);
  }

  async event(e: EventInput): Promise<void> {
    await this.store.appendEvents([e]);
  }

  async taskFiles(svc: Service): Promise<TaskFile[]> {
    const out: TaskFile[] = [];
    for (const ref of svc.files ?? []) {
      if (ref.kind === 'secret') {
        const rec = await this.store.get('secret', ref.key);
        if (!rec) throw new Error(`secret "${ref.source}" (version ${ref.key}) is no longer stored`);
        out.push({ ref, content: this.box.open(rec.value.sealed, ref.key) });
      } else {
        const rec = await this.store.get('config', ref.key);
        if (!rec) throw new Error(`config "${ref.source}" (version ${ref.key}) is no longer stored`);
        out.push({ ref, content: Buffer.from(rec.value.data, 'base64') });
      }
    }
    return out;
  }
}

import type { ControlPlane, NodeView, TaskFile, TaskReport } from '../agent/control-plane.js';
import { heartbeatNode, NodeChanges, readView, registerNode, reportTasks, serviceFiles, projectRegistryAuth, VIEW_KINDS } from '../controllers/index.js';
import type { ClusterView, EventInput, NodeInfo, Service } from '../model/types.js';
import type { SecretBox } from '../secrets/index.js';
import type { RegistryAuth } from '../model/image-ref.js';
import type { Store } from '../store/store.js';

/** A view as the agent keeps it: maps by id. */
export function toNodeView(v: ClusterView): NodeView {
  return {
    tasks: v.tasks,
    services: new Map(v.services.map((s) => [s.id, s])),
    projects: new Map(v.projects.map((p) => [p.name, p])),
    nodes: new Map(v.nodes.map((n) => [n.id, n])),
  };
}

/** The agent's link to the control plane when both live in one process: the store itself. */
export class LocalControlPlane implements ControlPlane {
  constructor(private readonly store: Store, private readonly box: SecretBox) {}

  register(node: NodeInfo): Promise<void> {
    return registerNode(this.store, node);
  }

  async heartbeat(nodeId: string): Promise<void> {
    await heartbeatNode(this.store, nodeId);
  }

  async subscribe(onView: (v: NodeView) => void): Promise<() => void> {
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const build = async (): Promise<void> => {
      timer = undefined;
      if (closed) return;
      const v = await readView(this.store);
      if (!closed) onView(toNodeView(v));
    };
    const rev = await this.store.revision();
    const nodes = new NodeChanges();
    const unwatch = this.store.watch(rev, (events) => {
      if (!events.some((e) => VIEW_KINDS.has(e.kind) && (e.kind !== 'node' || nodes.changed(e)))) return;
      if (!timer) timer = setTimeout(() => void build(), 3);
    });
    await build();
    return () => {
      closed = true;
      unwatch();
      if (timer) clearTimeout(timer);
    };
  }

  report(reports: TaskReport[]): Promise<void> {
    return reportTasks(this.store, reports);
  }

  async event(e: EventInput): Promise<void> {
    await this.store.appendEvents([e]);
  }

  taskFiles(svc: Service): Promise<TaskFile[]> {
    return serviceFiles(this.store, svc, (sealed, key) => this.box.open(sealed, key));
  }

  registryAuth(project: string, image: string): Promise<RegistryAuth | undefined> {
    return projectRegistryAuth(this.store, project, image, (sealed, label) => this.box.open(sealed, label));
  }
}

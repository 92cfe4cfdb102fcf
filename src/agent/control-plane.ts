import type { EventInput, NodeInfo, Project, Service, Task, TaskFileRef, TaskObserved, TaskReport } from '../model/types.js';
import type { RegistryAuth } from '../model/image-ref.js';

export type { TaskObserved, TaskReport };

/** What an agent sees of the cluster. */
export interface NodeView {
  /** Every task known (the agent runs those with node === its id; the rest are endpoints). */
  tasks: Task[];
  /** Services by id (`project/name`). */
  services: Map<string, Service>;
  /** Projects by name: their networks and volumes, for container drivers. */
  projects?: Map<string, Project>;
  /** Nodes by id: where tasks on other nodes are reached. */
  nodes?: Map<string, NodeInfo>;
}


/**
 * How an agent talks to the managers. In `baton daemon` it is the store in the
 * same process; for remote agents it will be the API.
 */
export interface ControlPlane {
  register(node: NodeInfo): Promise<void>;
  heartbeat(nodeId: string): Promise<void>;
  /** Calls onView with the current view, then again after every change. */
  subscribe(onView: (v: NodeView) => void): Promise<() => void>;
  report(reports: TaskReport[]): Promise<void>;
  event(e: EventInput): Promise<void>;
  /** The values of a service's secrets and configs, decrypted for delivery to a task on this node. */
  taskFiles(svc: Service): Promise<TaskFile[]>;
  /** Credentials a deploy of the project sent (`--with-registry-auth`) for the registry of `image`; undefined when none. */
  registryAuth(project: string, image: string): Promise<RegistryAuth | undefined>;
}

export interface TaskFile {
  ref: TaskFileRef;
  content: Buffer;
}

import type { EventInput, NodeInfo, Project, Service, Task, TaskFileRef } from '../model/types.js';

/** What an agent sees of the cluster. */
export interface NodeView {
  /** Every task known (the agent runs those with node === its id; the rest are endpoints). */
  tasks: Task[];
  /** Services by id (`project/name`). */
  services: Map<string, Service>;
  /** Projects by name: their networks and volumes, for container drivers. */
  projects?: Map<string, Project>;
}

/** Observed fields only: an agent never writes desired state. */
export type TaskObserved = Partial<
  Pick<Task, 'state' | 'health' | 'pid' | 'pidStart' | 'exitCode' | 'error' | 'ports' | 'startedAt' | 'finishedAt' | 'message'>
>;

export interface TaskReport {
  task: Pick<Task, 'id' | 'project' | 'service'>;
  observed: TaskObserved;
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
}

export interface TaskFile {
  ref: TaskFileRef;
  content: Buffer;
}

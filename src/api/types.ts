import type { ComposeProject, UpdateConfig } from '../spec/types.js';
import type { BatonEvent, SealedValue, Service, Task } from '../model/types.js';
import type { FileSources } from '../spec/sources.js';
import type { ApiProblem } from './errors.js';

export interface DeployRequest {
  project: ComposeProject;
  /** Values of the project's file and environment secrets and configs (base64), sent beside the spec, never inside it. */
  sources?: FileSources;
  removeOrphans?: boolean;
}

export interface DeployResult {
  project: string;
  revision: number;
  created: string[];
  updated: string[];
  unchanged: string[];
  removed: string[];
  orphans: string[];
}

export interface ProjectSummary {
  name: string;
  revision: number;
  workingDir: string;
  files: string[];
  services: number;
  running: number;
  desired: number;
  status: string;
  updatedAt: string;
}

export interface ProjectStatus {
  project: string;
  /** Store revision this status was read at; pass it back as `after` to wait for the next change. */
  revision: number;
  services: Service[];
  tasks: Task[];
}

export interface LogEntry {
  service: string;
  slot: number;
  task: string;
  time: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface VersionInfo {
  version: string;
  api: string;
  node: string;
  home: string;
  pid: number;
}

/** What the daemon provides the API beyond the store: what needs a node's drivers and network. */
export interface ApiHooks {
  version: VersionInfo;
  /** Drivers this node can run; the default one first. */
  drivers(): string[];
  defaultDriver(): string;
  allocatePort(): Promise<number>;
  /** A version id for a secret or config value (a keyed hash). */
  blobVersion(value: Buffer): string;
  /** Encrypts a secret value for the store, bound to the key it is stored under. */
  seal(value: Buffer, key: string): SealedValue;
  /** Autolock on: the cluster key is kept locked under a new unlock key, returned once. Off: kept in the clear. */
  autolock(enable: boolean): { unlockKey?: string };
  /** Problems that would stop services from running here (command not found, port taken). */
  preflight(services: Service[], ownPorts: Set<number>): Promise<ApiProblem[]>;
  logs(task: Task, opts: { tail?: number; follow?: boolean; signal: AbortSignal }, onLine: (l: Omit<LogEntry, 'service' | 'slot' | 'task'>) => void): Promise<void>;
}

export type { BatonEvent };

/** One line of `baton service history`. */
export interface RevisionSummary {
  revision: number;
  cause: 'deploy' | 'update' | 'rollback' | 'restart';
  changes: string[];
  image?: string;
  createdAt: string;
  current: boolean;
}

/** `baton service update` flags, named as `docker service update`'s. */
export interface ServiceUpdateRequest {
  image?: string;
  envAdd?: string[];
  envRm?: string[];
  command?: string[];
  replicas?: number;
  force?: boolean;
  updateConfig?: UpdateConfig;
  rollbackConfig?: UpdateConfig;
}

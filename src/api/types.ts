import type { BuildFlags } from '../model/build-options.js';
import type { ComposeProject, ServiceConfig, UpdateConfig } from '../spec/types.js';
import type { BatonEvent, SealedValue, Service, Task, TaskStats } from '../model/types.js';
import type { RegistryAuth } from '../model/image-ref.js';
import type { FileSources } from '../spec/sources.js';
import type { ApiProblem } from './errors.js';
import type { StdioSession, TermSize } from '../model/stdio.js';

export type { StdioSession, TermSize };

export interface DeployRequest {
  project: ComposeProject;
  /** Values of the project's file and environment secrets and configs (base64), sent beside the spec, never inside it. */
  sources?: FileSources;
  removeOrphans?: boolean;
  /**
   * `--with-registry-auth`: credentials by registry, from the caller's Docker
   * config. Kept sealed with the project (replacing any sent before), so the
   * nodes that run its tasks can pull private images.
   */
  registryAuth?: Record<string, RegistryAuth>;
}

export interface DeployResult {
  project: string;
  revision: number;
  created: string[];
  updated: string[];
  unchanged: string[];
  removed: string[];
  orphans: string[];
  /** What the deploy left out and why, as Docker warns (published ports of a service on the host's network). */
  warnings?: string[];
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
  /** Set on a cluster manager (`baton manager`): its join tokens and its own node. */
  cluster?: {
    joinToken(role: 'worker' | 'manager', rotate: boolean): Promise<string>;
    /** The node port agents join at (host:port). */
    address: string;
  };
  /** The node this daemon runs on: it cannot be removed from itself. */
  selfNode?: string;
  /** Drivers this node can run; the default one first. */
  drivers(): string[];
  /** The driver of a service that names none (docker for an image when an engine answers, else process). */
  defaultDriver(service: ServiceConfig): string;
  allocatePort(): Promise<number>;
  /** A version id for a secret or config value (a keyed hash). */
  blobVersion(value: Buffer): string;
  /** Encrypts a secret value for the store, bound to the key it is stored under. */
  seal(value: Buffer, key: string): SealedValue;
  /** Autolock on: the cluster key is kept locked under a new unlock key, returned once. Off: kept in the clear. */
  autolock(enable: boolean): { unlockKey?: string };
  /** Looks again for drivers missing so far (an engine started after the daemon), before a deploy, build or pull decides where image services run. */
  probeDrivers?(): Promise<void>;
  /** Problems that would stop services from running here (command not found, port taken). */
  preflight(services: Service[], ownPorts: Set<number>): Promise<ApiProblem[]>;
  /** After `down`, once its tasks are gone: drivers remove the project's networks (and named volumes with `volumes`). */
  removeProject?(project: string, opts: { volumes: boolean }): Promise<void>;
  /** `baton pause` / `unpause`: freezes or thaws a running task, on whichever node runs it. */
  pause?(task: Task, action: 'pause' | 'unpause'): Promise<void>;
  /** `baton kill`: sends a signal to a running task, on whichever node runs it. */
  signal?(task: Task, signal: string): Promise<void>;
  /** `down --rmi`: removes an image from this node's engine; rejects with the engine's words (in use, not there). */
  removeImage?(image: string): Promise<void>;
  /** Whether `exec` can run in this task (its driver runs containers); a sentence saying why not otherwise. */
  canExec?(task: Task): string | undefined;
  /**
   * `build:` sections of these services, through the engine: all of them with
   * `force`, else only those whose image is not there yet. Rejects with
   * ImageError naming the service. Absent when no engine answers.
   */
  build?(project: ComposeProject, services: string[], how: { force: boolean } & BuildFlags, onLine: (service: string, line: string) => void, context?: NodeJS.ReadableStream, auth?: Record<string, RegistryAuth>): Promise<{ built: string[] }>;
  /** Which of these services a build would build now: all with `force`, else those whose image is not here. */
  buildPlan?(project: ComposeProject, services: string[], force: boolean): Promise<string[]>;
  /** Pulls the images of these services (those without build:), naming the service that failed (ImageError). */
  pull?(project: ComposeProject, services: string[], missingOnly: boolean, onLine: (service: string, line: string) => void, auth?: Record<string, RegistryAuth>): Promise<{ pulled: string[] }>;
  /** Which of these services a pull would fetch now (with missingOnly: images not here, and pull_policy: always). */
  pullPlan?(project: ComposeProject, services: string[], missingOnly: boolean): Promise<string[]>;
  /** Pushes the images of these services (each names one), naming the service that failed (ImageError). Absent when no engine answers. */
  push?(project: ComposeProject, services: string[], onLine: (service: string, line: string) => void, auth?: Record<string, RegistryAuth>): Promise<{ pushed: string[] }>;
  /** Has the engine log in to a registry with these credentials; rejects with the registry's answer. Absent when no engine answers. */
  login?(auth: RegistryAuth): Promise<{ status: string }>;
  /** An image on this node (`baton images`); undefined when it is not here. */
  imageInfo?(image: string): Promise<{ id: string; sizeBytes: number; created: string } | undefined>;
  /** `baton cp`: a tar of a path inside a running task, and unpacking one into a folder there; absent when no driver can. */
  getArchive?(task: Task, path: string): Promise<NodeJS.ReadableStream>;
  putArchive?(task: Task, path: string, tar: Buffer): Promise<void>;
  /** Whether `run` can start a one-off container of this service; a sentence saying why not otherwise. */
  canRun?(service: Service): string | undefined;
  run?(service: Service, req: RunRequest, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void, signal: AbortSignal): Promise<number | null>;
  /** What a running task uses now (`baton stats`), and its processes (`baton top`); undefined when its driver cannot say. */
  stats?(task: Task): Promise<TaskStats | undefined>;
  top?(task: Task): Promise<{ titles: string[]; processes: string[][] } | undefined>;
  exec?(task: Task, req: ExecRequest, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void, signal: AbortSignal): Promise<number | null>;
  /** `exec` attached (stdin and/or a TTY, the upgraded connection): the command has started once this resolves. */
  execAttached?(task: Task, req: ExecRequest, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void): Promise<StdioSession>;
  /** `run` attached: the one-off container has started once this resolves; `done` waits for its removal (rm). */
  runAttached?(service: Service, req: RunRequest, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void): Promise<StdioSession>;
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

/** `baton exec`: a command to run in one running task of a service. */
export interface ExecRequest {
  service: string;
  /** The task's slot (replica number), from 1. */
  index: number;
  argv: string[];
  /** KEY=VALUE */
  env?: string[];
  user?: string;
  workdir?: string;
  /** Attached requests only (the upgraded connection): a TTY for the command, its stdin, the terminal's first size. */
  tty?: boolean;
  stdin?: boolean;
  size?: TermSize;
}

/** One item of an exec stream: output (base64) as it comes, then the exit code. */
export type ExecEvent = { stream: 'stdout' | 'stderr'; data: string } | { exitCode: number | null };


/** One running task in `baton stats`: null figures when its driver cannot measure. */
export interface TaskStatsEntry {
  service: string;
  slot: number;
  task: string;
  driver: string;
  stats: TaskStats | null;
}

/** One running task in `baton top`. */
export interface TaskTopEntry {
  service: string;
  slot: number;
  task: string;
  titles: string[];
  processes: string[][];
}

/** `baton run`: a one-off container of a service, with its command (or the service's), as `docker compose run`. */
export interface RunRequest {
  service: string;
  argv?: string[];
  entrypoint?: string[];
  /** KEY=VALUE */
  env?: string[];
  user?: string;
  workdir?: string;
  rm?: boolean;
  /** Attached requests only, as in ExecRequest. */
  tty?: boolean;
  stdin?: boolean;
  size?: TermSize;
}

/** `baton build` / `up`: a project's `build:` sections, all (`force`) or only images not there yet. */
export interface BuildRequest {
  project: ComposeProject;
  /** Services to build; all with a build: section when empty. */
  services?: string[];
  force?: boolean;
  /** `baton build --no-cache`: no cached layer is used. */
  noCache?: boolean;
  /** `baton build --pull`: the images the Dockerfiles start FROM are pulled even when here. */
  pull?: boolean;
  /** Build nothing: answer which services need a build (`{ needed }`), for a client that sends each context itself. */
  plan?: boolean;
  /** The caller's registry logins, for the images the Dockerfiles start FROM: used for this build only, never stored. */
  auth?: Record<string, RegistryAuth>;
}

/**
 * The content type of a build whose context the client sends (a remote
 * daemon cannot read the client's folder): one line of JSON, the BuildRequest
 * naming exactly one service, then the tar of its context.
 */
export const BUILD_UPLOAD_TYPE = 'application/x-baton-build';

/** One item of a build stream: builder output, then either what was built (or with `plan`, what needs building) or the error. */
export type BuildEvent = { service: string; line: string } | { built: string[] } | { needed: string[] } | { error: { service: string; message: string } };

/** `baton pull`: images of the project's services (all without build: when none named). */
export interface PullRequest {
  project: ComposeProject;
  services?: string[];
  /** What `up` does: only images not here yet (and `pull_policy: always` ones); none with `pull_policy: never`. */
  missingOnly?: boolean;
  /** Credentials by registry (as registryOf names it), from the caller's Docker config: used for this pull only, never stored. */
  auth?: Record<string, RegistryAuth>;
  /** Pull nothing: answer which of these services a pull would fetch now (`{ needed }`). */
  plan?: boolean;
}

export type { RegistryAuth };

/** `baton login`: credentials the engine checks against the registry. */
export interface LoginRequest {
  auth: RegistryAuth;
}

export type PullEvent = { service: string; line: string } | { pulled: string[] } | { needed: string[] } | { error: { service: string; message: string } };

/** `baton push`: images of the project's services that name one (`image:`), all when none named. */
export interface PushRequest {
  project: ComposeProject;
  services?: string[];
  /** Credentials by registry, from the caller's Docker config: used for this push only. */
  auth?: Record<string, RegistryAuth>;
}

export type PushEvent = { service: string; line: string } | { pushed: string[] } | { error: { service: string; message: string } };

/** One service's image in `baton images`. */
export interface ImageEntry {
  service: string;
  image: string;
  /** Absent when the image is not on this node. */
  id?: string;
  sizeBytes?: number;
  created?: string;
}

/** `baton node update`: what an admin may change of a node. */
export interface NodeUpdateRequest {
  availability?: 'active' | 'pause' | 'drain';
  role?: 'manager' | 'worker';
  labelAdd?: Record<string, string>;
  labelRm?: string[];
}

import type { ComposeProject, ServiceConfig } from '../spec/types.js';

export type TaskState =
  | 'pending'      // created, waiting for a node (or for depends_on)
  | 'assigned'     // scheduler picked a node
  | 'preparing'    // agent is setting it up
  | 'starting'     // driver started it, not yet confirmed running
  | 'running'
  | 'complete'     // exited 0
  | 'failed'       // exited non-zero, or could not start
  | 'shutdown'     // stopped because desired state said so
  | 'rejected'     // the node refused it (bad command, port taken)
  | 'orphaned';    // its node is gone

export type Health = 'none' | 'starting' | 'healthy' | 'unhealthy';

export type DesiredState = 'running' | 'shutdown';

export interface TaskPort {
  target: number;
  protocol: 'tcp' | 'udp';
  /** Where this task listens on its node (process driver: a port baton chose and passed in PORT). */
  hostPort: number;
  hostIp: string;
  /**
   * Where other nodes reach this port when hostIp:hostPort is only reachable
   * on this node (a container's address on its bridge): this node's mesh
   * listens on its own address at nodePort and forwards to hostIp:hostPort.
   */
  nodePort?: number;
}

export interface Task {
  id: string;
  project: string;
  service: string;
  slot: number;
  /** Service.revision this task was made from. */
  revision: number;
  /** Service.specHash this task was made from: whether it is up to date (a rollback returns to an old hash under a new revision). */
  specHash?: string;
  node?: string;
  /** Global services: the node this task belongs to; the scheduler places it there or nowhere. */
  pin?: string;
  driver: string;
  desiredState: DesiredState;
  state: TaskState;
  health: Health;
  /** Restarts of this slot before this task (carried from task to task). */
  restarts: number;
  exitCode?: number | null;
  error?: string;
  /** Why it is not running yet (e.g. "waiting for db to be healthy"). */
  message?: string;
  pid?: number;
  /** Kernel start time of pid (jiffies since boot), so a recycled pid is never mistaken for ours. */
  pidStart?: number;
  /**
   * Tasks whose container namespaces this task's container shares (`network_mode`, `pid` or `ipc`:
   * `service:NAME`): it is replaced when one of them is, since what it joined is gone with it.
   */
  joins?: string[];
  /** Frozen by `baton pause` (still running; `unpause` thaws it). */
  paused?: boolean;
  ports: TaskPort[];
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  /** When its healthcheck first passed. */
  healthyAt?: string;
  finishedAt?: string;
  /** Quick failures in a row of this slot, for the crash-loop back-off. */
  streak?: number;
  /** Times this slot was restarted (bounded), for max_attempts within window. */
  attempts?: string[];
  /** Set while depends_on holds the task back; the scheduler leaves it alone. */
  blockedBy?: string;
}

export type ServiceMode = 'replicated' | 'global';

export interface RestartPolicy {
  condition: 'none' | 'on-failure' | 'any';
  delayMs: number;
  maxAttempts: number; // 0 = unlimited
  windowMs: number;    // 0 = forever
}

export interface Healthcheck {
  /** Argv to exec (CMD) or a shell string (CMD-SHELL). */
  test: { kind: 'exec'; argv: string[] } | { kind: 'shell'; command: string };
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
  startIntervalMs: number;
}

/** Swarm's update_config / rollback_config, resolved with Swarm's defaults. */
export interface UpdatePolicy {
  /** Tasks replaced at once; 0 = all. */
  parallelism: number;
  delayMs: number;
  order: 'stop-first' | 'start-first';
  failureAction: 'pause' | 'continue' | 'rollback';
  /** How long a new task is watched for failure before it counts as updated. */
  monitorMs: number;
  maxFailureRatio: number;
}

export type UpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

/** The update in progress (or the last one), as Swarm's UpdateStatus. */
export interface UpdateStatus {
  state: UpdateState;
  /** Revision being left, and the one being rolled out. */
  from: number;
  to: number;
  startedAt: string;
  completedAt?: string;
  message: string;
  /** New tasks of this update that failed (ids), for max_failure_ratio. */
  failed: string[];
  /** When the last batch started and when it settled, for `delay`. */
  batchAt?: string;
  settledAt?: string;
}

/** One stored revision of a service: what `service history` lists and what a rollback returns to. */
export interface ServiceRevision {
  project: string;
  service: string;
  revision: number;
  specHash: string;
  cause: 'deploy' | 'update' | 'rollback' | 'restart';
  /** Top-level keys of the Compose service that differ from the revision before. */
  changes: string[];
  /** The service record as deployed at this revision. */
  record: Service;
  createdAt: string;
}

export interface ServicePortSpec {
  target: number;
  protocol: 'tcp' | 'udp';
  /** `mode: host`: published only on the nodes running a task, to those tasks; absent for the ingress mode. */
  mode?: 'host';
  /** Published host port (ingress, served by the mesh on every node); undefined when not published. */
  published?: number;
  hostIp?: string;
  /** Stable port on loopback where the mesh balances this service port for other services (a VIP). */
  vipPort: number;
}

export interface Service {
  /** `${project}/${name}` */
  id: string;
  project: string;
  name: string;
  /** Bumped whenever the spec changes; tasks carry the revision they were made from. */
  revision: number;
  mode: ServiceMode;
  replicas: number;
  /** `baton stop` sets this; `start` clears it. Tasks are shut down while stopped. */
  stopped: boolean;
  driver: string;
  restart: RestartPolicy;
  healthcheck?: Healthcheck;
  stopSignal: string;
  stopGraceMs: number;
  ports: ServicePortSpec[];
  /** Where the HTTP ingress routes to this service (x-baton.domain). */
  ingress?: ServiceIngress;
  /** x-baton.balance; round robin when absent. */
  balance?: 'least-connections';
  /** Secrets and configs delivered as files, each at a fixed version. */
  files: TaskFileRef[];
  /**
   * Version of the registry credentials a deploy sent for this service's
   * image (`--with-registry-auth`): new credentials make new tasks, which
   * pull with them, as a Swarm service update does.
   */
  registryAuth?: string;
  /** The normalized Compose service this was made from. */
  spec: ServiceConfig;
  /** The project folder: the default working directory of process tasks. */
  workingDir: string;
  /** Bumped by `baton restart` to force new tasks without a spec change. */
  forceUpdate: number;
  /** Hash of everything that makes tasks differ (spec, driver, ports, folder, forceUpdate): tasks with another hash are outdated. */
  specHash: string;
  update: UpdatePolicy;
  rollback: UpdatePolicy;
  /** Set when a deploy changes a running service; absent for a first deploy. */
  updateStatus?: UpdateStatus;
  createdAt: string;
  updatedAt: string;
}

export interface Project {
  name: string;
  revision: number;
  workingDir: string;
  files: string[];
  spec: ComposeProject;
  createdAt: string;
  updatedAt: string;
}

export type NodeState = 'ready' | 'down';

export interface NodeInfo {
  id: string;
  hostname: string;
  address: string;
  role: 'manager' | 'worker';
  availability: 'active' | 'pause' | 'drain';
  labels: Record<string, string>;
  capacity: { cpus: number; memoryBytes: number };
  drivers: string[];
  state: NodeState;
  heartbeatAt: string;
  /** Why it is down, when it is. */
  message?: string;
  /** The container engine's own labels (`docker info`), for `engine.labels.*` constraints. */
  engineLabels?: Record<string, string>;
  /** When it joined the cluster (absent for the node of a single-machine daemon). */
  joinedAt?: string;
  /** The node's own port, where managers read its tasks' logs, stats and processes (cluster agents). */
  apiPort?: number;
  version?: string;
}

/** Observed fields of a task, the only ones an agent writes. */
export type TaskObserved = Partial<
  Pick<Task, 'state' | 'health' | 'pid' | 'pidStart' | 'joins' | 'exitCode' | 'error' | 'ports' | 'startedAt' | 'finishedAt' | 'message'>
>;

export interface TaskReport {
  task: Pick<Task, 'id' | 'project' | 'service'>;
  observed: TaskObserved;
}

/** What an agent is sent of the cluster: everything it runs or routes to. */
export interface ClusterView {
  /** Store revision the view was read at; an agent asks for the next view after it. */
  revision: number;
  tasks: Task[];
  services: Service[];
  projects: Project[];
  nodes: NodeInfo[];
}

/**
 * The cluster's identity and its join tokens. The tokens' secrets are sealed
 * with the cluster key so `join-token` can show them again, as Swarm does.
 */
export interface ClusterRecord {
  id: string;
  caFingerprint: string;
  tokens: { worker: SealedValue; manager: SealedValue };
  createdAt: string;
  rotatedAt?: string;
}

export interface BatonEvent {
  seq: number;
  time: string;
  type: string;
  project?: string;
  service?: string;
  task?: string;
  node?: string;
  message: string;
}

export type EventInput = Omit<BatonEvent, 'seq' | 'time'> & { time?: string };

export interface ServiceIngress {
  domains: string[];
  path: string;
  /** The service port the ingress sends requests to. */
  target: number;
  timeoutMs?: number;
  /** HTTPS: a certificate from the node's ACME server, or these PEM files (relative to the project folder). */
  tls?: { acme: true } | { cert: string; key: string };
  /** Plain HTTP answered with a redirect to HTTPS. */
  redirectHttps?: boolean;
}

/** A secret or config value as a task gets it: a file. */
export interface TaskFileRef {
  kind: 'secret' | 'config';
  /** The key under the project's top-level secrets:/configs:. */
  source: string;
  /** Store key of the exact version delivered: a changed value is a new version, and rolls the service. */
  key: string;
  /** Where the file goes: a relative target is under /run/secrets (secrets) or / (configs). */
  target: string;
  uid?: string;
  gid?: string;
  mode?: number;
}

/** AES-256-GCM output, base64 parts. */
export interface SealedValue {
  iv: string;
  tag: string;
  data: string;
}

/**
 * One immutable version of a named secret or config. `scope` is the project
 * it came from, or "_" for those made with `baton secret|config create`
 * (what `external: true` refers to).
 */
export interface BlobRecord {
  name: string;
  scope: string;
  /** Keyed hash of the value: equal values, equal versions, without revealing the value. */
  version: string;
  size: number;
  createdAt: string;
}
export interface SecretRecord extends BlobRecord {
  sealed: SealedValue;
}
export interface ConfigRecord extends BlobRecord {
  /** base64; configs are not secret. */
  data: string;
}

/** What a token may do: viewers read, deployers also deploy and scale, admins also manage secrets and tokens. */
export type Role = 'viewer' | 'deployer' | 'admin';

/** An API token; only a hash of its secret part is kept. */
export interface ApiToken {
  id: string;
  name: string;
  role: Role;
  /** sha256 of the secret part, hex. */
  hash: string;
  createdAt: string;
}

/** What a running task uses, as the engine measures it (`baton stats`). */
export interface TaskStats {
  /** Share of one CPU, in percent (200 = two CPUs busy). */
  cpuPercent: number;
  memoryBytes: number;
  /** The task's memory limit, or the node's memory when it has none. */
  memoryLimitBytes: number;
  netRxBytes: number;
  netTxBytes: number;
  pids: number;
}

/**
 * Registry credentials a deploy sent along (`--with-registry-auth`), sealed
 * with the cluster key: nodes that run the project's tasks pull with them.
 */
export interface RegistryAuthRecord {
  project: string;
  /** The registries they are for (registryOf names), readable without opening. */
  registries: string[];
  sealed: SealedValue;
  updatedAt: string;
}

export interface Objects {
  project: Project;
  service: Service;
  revision: ServiceRevision;
  task: Task;
  node: NodeInfo;
  secret: SecretRecord;
  config: ConfigRecord;
  token: ApiToken;
  cluster: ClusterRecord;
  registryAuth: RegistryAuthRecord;
}

export type Kind = keyof Objects;

import type { Task, TaskPort, TaskStats } from '../model/types.js';
import type { RegistryAuth } from '../model/image-ref.js';
import type { StdioSession, TermSize } from '../model/stdio.js';

export type { TaskStats, TermSize };

/** Everything a driver needs to start one task, already resolved by the agent. */
export interface RunSpec {
  task: Pick<Task, 'id' | 'project' | 'service' | 'slot'>;
  /** argv: entrypoint + command, resolved. */
  argv: string[];
  env: Record<string, string>;
  workingDir: string;
  /** "uid", "uid:gid", "name" or "name:group"; only honoured when running as root. */
  user?: string;
  stopSignal: string;
  stopGraceMs: number;
  /**
   * Secrets and configs the agent wrote on this host (and, for drivers with
   * filesAtTargets, the task's hosts file): a container driver mounts each at
   * its target; the process driver hands them to the task's user, and mounts
   * them at their targets in the task's mount namespace when it makes one.
   */
  files?: { dir: string; entries: { kind: 'secret' | 'config'; hostPath: string; target: string; uid?: number; gid?: number }[] };
  /** For container drivers: what to run and how; the process driver ignores it. */
  container?: ContainerSpec;
  /** Credentials for pulling this image, asked for only when a pull is needed (a deploy's `--with-registry-auth`). */
  registryAuth?: (image: string) => Promise<RegistryAuth | undefined>;
}

/** Labels that mark what baton created, so it finds its own again and never touches anything else. */
export const LABEL = {
  project: 'com.baton.project',
  service: 'com.baton.service',
  slot: 'com.baton.slot',
  task: 'com.baton.task',
  instance: 'com.baton.instance',
  network: 'com.baton.network',
  volume: 'com.baton.volume',
} as const;

/** A network a container joins: created by the driver when missing, unless external. */
export interface ContainerNetwork {
  /** A fixed address on this network (`ipv4_address`, `ipv6_address`). */
  ipv4Address?: string;
  ipv6Address?: string;
  /** The engine's name for it (`<project>_default`, or as the Compose file names it). */
  name: string;
  /** Names this container answers to on it, besides its service name. */
  aliases: string[];
  external: boolean;
  internal: boolean;
  driver?: string;
  labels: Record<string, string>;
  /** `driver_opts`, `enable_ipv6`, `attachable` and `ipam` of the top-level network, for its creation. */
  driverOpts?: Record<string, string>;
  enableIpv6?: boolean;
  attachable?: boolean;
  ipam?: { driver?: string; config: { subnet?: string; ipRange?: string; gateway?: string; auxAddresses?: Record<string, string> }[]; options?: Record<string, string> };
}

export const PROPAGATIONS = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'] as const;
export type Propagation = (typeof PROPAGATIONS)[number];

export interface ContainerMount {
  type: 'volume' | 'bind' | 'tmpfs';
  /** Engine volume name (`<project>_<name>`), host path, or none (anonymous volume, tmpfs). */
  source?: string;
  target: string;
  readOnly: boolean;
  /** tmpfs size in bytes. */
  tmpfsSize?: number;
  /** A bind mount's host folder is made when missing (`bind.create_host_path`, true for the short syntax, as in Compose). */
  createHostPath?: boolean;
  /** A bind mount's propagation. */
  propagation?: Propagation;
}

/** A named volume a container uses: created once when missing, unless external. */
export interface ContainerVolume {
  name: string;
  external: boolean;
  driver?: string;
  labels: Record<string, string>;
}

/**
 * A Compose service as a container, already resolved by the agent: names are
 * the engine's, sizes in bytes, durations in ms. Entrypoint and command stay
 * undefined to keep the image's own.
 */
export interface ContainerSpec {
  image: string;
  /** `platform` (os/arch[/variant]): pulled for, and the container created for, that platform. */
  platform?: string;
  /** missing (default), always, never; `build` is not run by the driver. */
  pullPolicy: 'missing' | 'always' | 'never';
  entrypoint?: string[];
  command?: string[];
  env: Record<string, string>;
  workingDir?: string;
  hostname?: string;
  labels: Record<string, string>;
  /**
   * The service's ports, with a node port for each: used when the node cannot
   * reach the container's own address (rootless engines), where the engine
   * publishes the target port there instead.
   */
  ports: { target: number; protocol: 'tcp' | 'udp'; hostIp: string; hostPort: number }[];
  mounts: ContainerMount[];
  volumes: ContainerVolume[];
  /** The first one is joined at creation, the others right after. */
  networks: ContainerNetwork[];
  /** The service name: every container answers to it on each of its networks. */
  serviceAlias: string;
  init?: boolean;
  readOnly?: boolean;
  privileged?: boolean;
  capAdd: string[];
  capDrop: string[];
  ulimits: { name: string; soft: number; hard: number }[];
  sysctls: Record<string, string>;
  extraHosts: string[];
  dns: string[];
  tmpfs: string[];
  /** Host devices: `devices:` entries. */
  devices: { host: string; container: string; permissions: string }[];
  shmSizeBytes?: number;
  nanoCpus?: number;
  memoryBytes?: number;
  pidsLimit?: number;
  logging?: { driver: string; options: Record<string, string> };
  /** The rest of the Compose keys the engine takes as they are (see EngineOptions). */
  engine: EngineOptions;
}

/**
 * Namespaces and knobs a Compose service may ask of the engine, passed on as
 * written. A namespace mode `service:NAME` is resolved by the driver to a
 * running container of that service of the project on this node.
 */
export interface EngineOptions {
  /** host, none, bridge, container:NAME or service:NAME; when set, the container joins no project network. */
  networkMode?: string;
  pid?: string;
  ipc?: string;
  uts?: string;
  securityOpt: string[];
  groupAdd: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  tty: boolean;
  stdinOpen: boolean;
  domainname?: string;
  macAddress?: string;
  cgroupParent?: string;
  runtime?: string;
  usernsMode?: string;
  storageOpt: Record<string, string>;
  deviceCgroupRules: string[];
  oomScoreAdj?: number;
  oomKillDisable?: boolean;
  cpuShares?: number;
  cpusetCpus?: string;
  cpuQuota?: number;
  cpuPeriod?: number;
  memoryReservationBytes?: number;
  memorySwapBytes?: number;
  memorySwappiness?: number;
  /** `volumes_from`: `service:NAME[:ro]` (a container of that service of the project on this node) or `container:NAME[:ro]`. */
  volumesFrom: string[];
  blkio?: BlkioOptions;
}

/** `blkio_config`: a weight, and per-device weights and limits (bytes or operations per second). */
export interface BlkioOptions {
  weight?: number;
  weightDevice: { path: string; weight: number }[];
  deviceReadBps: { path: string; rate: number }[];
  deviceWriteBps: { path: string; rate: number }[];
  deviceReadIOps: { path: string; rate: number }[];
  deviceWriteIOps: { path: string; rate: number }[];
}

export interface ExitInfo {
  exitCode: number | null;
  signal: string | null;
  error?: string;
}

export interface LogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface RunningTask {
  taskId: string;
  pid?: number;
  /** Kernel start time of pid, to recognise it after a daemon restart. */
  pidStart?: number;
  /** Where the task really listens, when the driver chose (a container's own address); else the ports of the RunSpec. */
  ports?: TaskPort[];
  /** Tasks whose namespaces its container joined (`service:NAME` modes). */
  joins?: string[];
}

export interface DriverEvents {
  /** A task's process ended (whatever the cause). */
  exited(taskId: string, info: ExitInfo): void;
}

/**
 * Runs tasks on this node. A driver never decides policy (restarts, health):
 * it starts, stops, reports exits and keeps logs.
 */
export interface Driver {
  readonly name: string;
  /** Runs containers: the agent then fills RunSpec.container from the Compose service. */
  readonly runsContainers?: boolean;
  /**
   * Tasks see RunSpec.files at their targets (/run/secrets/<name>, a config's
   * path) and a hosts file over /etc/hosts; otherwise the agent tells them
   * their folder through the environment.
   */
  readonly filesAtTargets?: boolean;
  /** Whether this driver can run on this node now (engine reachable, etc.). */
  available(): Promise<boolean>;
  /** The engine's own labels (Swarm's `engine.labels.*`), for drivers that run on one. */
  engineLabels?(): Promise<Record<string, string>>;
  /** Starts the task; rejects with TaskStartError when it cannot (no such command, etc.). */
  start(spec: RunSpec): Promise<RunningTask>;
  /** Sends stopSignal, waits up to stopGraceMs, then kills. Resolves once gone. Safe to call for unknown or dead tasks. */
  stop(taskId: string, opts: { signal: string; graceMs: number }): Promise<void>;
  /** `baton kill`: sends a signal (a name such as SIGHUP or HUP, or a number) to the task's main process; stops nothing else. */
  signal?(taskId: string, signal: string): Promise<void>;
  /**
   * After a restart of the daemon: given what the store says ran here, returns
   * the ones still alive and now watched again; every other process this driver
   * created (for this baton home) is stopped, so nothing is left orphaned.
   */
  recover(known: RunningTask[]): Promise<RunningTask[]>;
  /** Runs a command in the task's environment (healthchecks): exit code, or null on timeout. */
  /** A probe in the task; `paused` when the task is paused (`baton pause`): nothing ran, and nothing is to be judged. */
  exec(taskId: string, probe: { argv: string[] } | { shell: string }, timeoutMs: number): Promise<{ exitCode: number | null; output: string; paused?: boolean }>;
  /** `baton pause` / `unpause`: freezes every process of the task, and thaws them. */
  pause?(taskId: string): Promise<void>;
  unpause?(taskId: string): Promise<void>;
  /** The last `tail` lines (all when undefined), then, if follow, new ones until the signal aborts. */
  logs(taskId: string, opts: { tail?: number; follow?: boolean; signal?: AbortSignal }, onLine: (l: LogLine) => void): Promise<void>;
  /** Removes what the driver kept for a task (logs) once the task is gone for good. */
  remove(taskId: string): Promise<void>;
  on(events: DriverEvents): void;
  close(): Promise<void>;
  /**
   * Once no task of a project runs any more (`down`): removes what the driver
   * made for the project besides tasks (networks; named volumes with `volumes`).
   */
  removeProject?(project: string, opts: { volumes: boolean }): Promise<void>;
  /** The IPv4 subnets of these networks on this node (the ones that exist), as CIDRs: where a project's containers connect from. */
  networkSubnets?(names: string[]): Promise<string[]>;
  /** `baton exec`: runs a command in a running task, streaming its output; resolves with its exit code. */
  execStream?(taskId: string, argv: string[], opts: ExecOptions, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void): Promise<number | null>;
  /** `baton exec` attached: stdin and/or a TTY; resolves once the command has started. */
  execAttached?(taskId: string, argv: string[], opts: ExecOptions & AttachOptions, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void): Promise<AttachedSession>;
  /**
   * `baton run`: starts a one-off task with its output going to onOutput from
   * its first byte, and stdin and a TTY when asked. Its exit is reported as
   * any task's; the session's `done` waits for it.
   */
  startAttached?(spec: RunSpec, io: AttachOptions, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void): Promise<{ running: RunningTask; session: AttachedSession }>;
  /** `baton cp` out of a task: a tar of the path (a file or a folder) inside it. */
  getArchive?(taskId: string, path: string): Promise<NodeJS.ReadableStream>;
  /** `baton cp` into a task: unpacks a tar into the folder at path inside it. */
  putArchive?(taskId: string, path: string, tar: Buffer): Promise<void>;
  /** `baton stats`: what a running task uses now; undefined when it does not run here. */
  stats?(taskId: string): Promise<TaskStats | undefined>;
  /** `baton top`: the processes of a running task, as `ps` shows them; undefined when it does not run here. */
  top?(taskId: string): Promise<{ titles: string[]; processes: string[][] } | undefined>;
}


/** What an attached command gets: a TTY (its output then all on stdout), stdin, the terminal's first size. */
export interface AttachOptions {
  tty: boolean;
  stdin: boolean;
  size?: TermSize;
}

/** A command attached to its caller: input in, resizes, its exit code (the same contract the API serves). */
export type AttachedSession = StdioSession;

export interface ExecOptions {
  env?: string[];
  user?: string;
  workingDir?: string;
  /** Extended privileges for the command (a lifecycle hook's `privileged`). */
  privileged?: boolean;
  signal?: AbortSignal;
}

export class TaskStartError extends Error {
  constructor(message: string, readonly reason: 'not-found' | 'permission' | 'invalid' | 'other' = 'other') {
    super(message);
    this.name = 'TaskStartError';
  }
}

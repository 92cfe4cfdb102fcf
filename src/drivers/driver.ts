import type { Task } from '../model/types.js';

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
   * Secrets and configs the agent wrote on this host: a container driver mounts
   * each at its target; the process driver hands the folder to the task's user.
   */
  files?: { dir: string; entries: { kind: 'secret' | 'config'; hostPath: string; target: string; uid?: number; gid?: number }[] };
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
  /** Whether this driver can run on this node now (engine reachable, etc.). */
  available(): Promise<boolean>;
  /** Starts the task; rejects with TaskStartError when it cannot (no such command, etc.). */
  start(spec: RunSpec): Promise<RunningTask>;
  /** Sends stopSignal, waits up to stopGraceMs, then kills. Resolves once gone. Safe to call for unknown or dead tasks. */
  stop(taskId: string, opts: { signal: string; graceMs: number }): Promise<void>;
  /**
   * After a restart of the daemon: given what the store says ran here, returns
   * the ones still alive and now watched again; every other process this driver
   * created (for this baton home) is stopped, so nothing is left orphaned.
   */
  recover(known: RunningTask[]): Promise<RunningTask[]>;
  /** Runs a command in the task's environment (healthchecks): exit code, or null on timeout. */
  exec(taskId: string, probe: { argv: string[] } | { shell: string }, timeoutMs: number): Promise<{ exitCode: number | null; output: string }>;
  /** The last `tail` lines (all when undefined), then, if follow, new ones until the signal aborts. */
  logs(taskId: string, opts: { tail?: number; follow?: boolean; signal?: AbortSignal }, onLine: (l: LogLine) => void): Promise<void>;
  /** Removes what the driver kept for a task (logs) once the task is gone for good. */
  remove(taskId: string): Promise<void>;
  on(events: DriverEvents): void;
  close(): Promise<void>;
}

export class TaskStartError extends Error {
  constructor(message: string, readonly reason: 'not-found' | 'permission' | 'invalid' | 'other' = 'other') {
    super(message);
    this.name = 'TaskStartError';
  }
}

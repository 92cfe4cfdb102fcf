import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Driver, DriverEvents, ExitInfo, LogLine, RunSpec, RunningTask } from '../driver.js';
import { TaskStartError } from '../driver.js';
import { LogFile, readLogFiles, removeLogFiles } from './log-file.js';
import { enterArgs, findNamespaceTools, MountPlanError, openNamespace, planMounts, type MountNamespace, type NamespaceTools } from './namespace.js';
import { alive, killGroup, lookupUser, pidStartTime, pidsWithEnv, signalName } from './procfs.js';
import { resolveCommand } from './resolve.js';

export interface ProcessDriverOptions {
  /** $BATON_HOME; logs go to home/logs. */
  home: string;
  /** Put in each child's environment as BATON_INSTANCE, so recover() only ever touches this daemon's processes. */
  instance: string;
  logMaxBytes?: number;
  logMaxFiles?: number;
  /**
   * Start tasks that have files in a mount namespace of their own, where each
   * file is at its target (/run/secrets/<name>, a config's path, /etc/hosts).
   * Only possible as root on Linux with util-linux; elsewhere, or when false,
   * tasks find their files in their folder. Default: on, unless
   * BATON_PROCESS_NAMESPACES=0.
   */
  namespaces?: boolean;
}

interface Proc {
  spec: RunSpec;
  child: ChildProcess;
  pid: number;
  log: LogFile;
  exited?: ExitInfo;
  waiters: (() => void)[];
  /** Probes running now (process group leaders): they go when the task goes. */
  probes: Set<number>;
  /** The task's mount namespace, held open until it exits. */
  ns?: MountNamespace;
  /** Stopped with SIGSTOP by `baton pause`: its probes wait, and a stop thaws it so the stop signal lands. */
  paused?: boolean;
}

/** After the main process exits, how long its pipes may stay open (held by a grandchild) before the exit is reported. */
const DRAIN_MS = 200;
const RECOVER_GRACE_MS = 2_000;
const RESOLVE_CACHE_MS = 2_000;

/**
 * Runs tasks as host processes, each in its own session and process group so
 * a stop reaches everything it started. Output goes through pipes into
 * per-task log files with timestamps.
 */
export class ProcessDriver implements Driver {
  readonly name = 'process';
  private readonly procs = new Map<string, Proc>();
  private readonly handlers: DriverEvents[] = [];
  private readonly logDir: string;
  private readonly maxBytes: number;
  private readonly maxFiles: number;
  private readonly resolved = new Map<string, Promise<string | undefined>>();
  private readonly tools: NamespaceTools | undefined;
  /** An empty folder where each namespace assembles its private folders before moving them in place. */
  private readonly workDir: string;

  constructor(private readonly opts: ProcessDriverOptions) {
    this.logDir = join(opts.home, 'logs');
    mkdirSync(this.logDir, { recursive: true, mode: 0o700 });
    this.maxBytes = opts.logMaxBytes ?? 10 * 1024 * 1024;
    this.maxFiles = opts.logMaxFiles ?? 3;
    const wanted = opts.namespaces ?? process.env.BATON_PROCESS_NAMESPACES !== '0';
    this.tools = wanted ? findNamespaceTools() : undefined;
    this.workDir = join(opts.home, 'ns');
    if (this.tools) {
      mkdirSync(this.workDir, { recursive: true, mode: 0o700 });
      this.workDir = realpathSync(this.workDir); // plans compare it with real paths
    }
  }

  /** Tasks see their files at their targets (in a mount namespace); otherwise in their folder. */
  get filesAtTargets(): boolean {
    return this.tools !== undefined;
  }

  async available(): Promise<boolean> {
    return true;
  }

  on(events: DriverEvents): void {
    this.handlers.push(events);
  }

  async start(spec: RunSpec): Promise<RunningTask> {
    const id = spec.task.id;
    if (spec.argv.length === 0) throw new TaskStartError('no command to run (set command or entrypoint)', 'invalid');
    const file = await this.resolve(spec.argv[0], spec.env.PATH ?? '', spec.workingDir);
    if (!file) throw new TaskStartError(`"${spec.argv[0]}": command not found`, 'not-found');
    let ids: { uid: number; gid: number } | undefined;
    if (spec.user && process.getuid?.() === 0) {
      try {
        ids = lookupUser(spec.user);
      } catch (err) {
        throw new TaskStartError(`user: ${(err as Error).message}`, 'invalid');
      }
    }
    // The task's secret and config files belong to the user it runs as, unless a uid/gid was asked for.
    if (ids && spec.files) handOver(spec.files, ids);
    const ns = await this.namespaceFor(spec);
    const log = new LogFile(this.logPath(id), this.maxBytes, this.maxFiles);
    // In a namespace, nsenter enters it, changes user and execs the program: same pid, untouched environment.
    // (The program's argv[0] is then the path it was found at.)
    const child = spawn(ns ? this.tools!.nsenter : file, ns ? enterArgs(ns, { wd: spec.workingDir, ...ids }, [file, ...spec.argv.slice(1)]) : spec.argv.slice(1), {
      ...(ns ? {} : { argv0: spec.argv[0], uid: ids?.uid, gid: ids?.gid }),
      cwd: spec.workingDir,
      env: { ...spec.env, BATON_INSTANCE: this.opts.instance, BATON_TASK_ID: id },
      detached: true, // own session: survives our death, and stop() can signal the whole group
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (err) {
      ns?.close();
      log.close();
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') throw new TaskStartError(`"${spec.argv[0]}": command not found (or working_dir "${spec.workingDir}" missing)`, 'not-found');
      if (e.code === 'EACCES' || e.code === 'EPERM') throw new TaskStartError(`"${spec.argv[0]}": permission denied`, 'permission');
      throw new TaskStartError(`could not start "${spec.argv[0]}": ${e.message}`);
    }
    const pid = child.pid!;
    const proc: Proc = { spec, child, pid, log, waiters: [], ns, probes: new Set() };
    this.procs.set(id, proc);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => log.write('stdout', d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => log.write('stderr', d));
    child.on('error', () => undefined);
    child.once('exit', (code, signal) => {
      const info: ExitInfo = { exitCode: code, signal };
      let reported = false;
      const report = (): void => {
        if (reported) return;
        reported = true;
        proc.exited = info;
        log.flush();
        // Whatever the main process left behind in its group goes with it.
        killGroup(pid, 'SIGKILL');
        for (const probe of proc.probes) killGroup(probe, 'SIGKILL');
        proc.ns?.close();
        this.procs.delete(id);
        log.close();
        for (const w of proc.waiters) w();
        for (const h of this.handlers) h.exited(id, info);
      };
      child.once('close', report);
      setTimeout(report, DRAIN_MS).unref();
    });
    return { taskId: id, pid, pidStart: pidStartTime(pid) };
  }

  async pause(taskId: string): Promise<void> {
    const p = this.procs.get(taskId);
    if (!p || p.exited) throw new Error('task is not running here');
    p.paused = true;
    killGroup(p.pid, 'SIGSTOP');
  }

  async unpause(taskId: string): Promise<void> {
    const p = this.procs.get(taskId);
    if (!p || p.exited) throw new Error('task is not running here');
    killGroup(p.pid, 'SIGCONT');
    p.paused = false;
  }

  async signal(taskId: string, signal: string): Promise<void> {
    const p = this.procs.get(taskId);
    if (!p || p.exited) throw new Error('task is not running here');
    // The whole group, as a stop signals it: a shell's children hear it too.
    if (!killGroup(p.pid, signalName(signal))) throw new Error(`could not signal process ${p.pid}`);
  }

  async stop(taskId: string, opts: { signal: string; graceMs: number }): Promise<void> {
    const p = this.procs.get(taskId);
    if (!p || p.exited) return;
    const gone = new Promise<void>((resolve) => p.waiters.push(resolve));
    let sig: NodeJS.Signals;
    try {
      sig = signalName(opts.signal);
    } catch {
      sig = 'SIGTERM';
    }
    killGroup(p.pid, sig);
    // A paused task would keep the stop signal pending: thawed, it gets it at once.
    if (p.paused) killGroup(p.pid, 'SIGCONT');
    const timer = setTimeout(() => killGroup(p.pid, 'SIGKILL'), Math.max(0, opts.graceMs));
    await gone;
    clearTimeout(timer);
  }

  /**
   * After a daemon restart. A surviving child's output pipe died with the old
   * daemon, so it can no longer be logged (and may die of SIGPIPE at its next
   * write): every process this instance started is stopped, its whole group,
   * and none is adopted. The controllers start fresh tasks in their place.
   */
  async recover(known: RunningTask[]): Promise<RunningTask[]> {
    const victims = new Set<number>();
    for (const k of known) {
      if (k.pid && alive(k.pid) && (k.pidStart === undefined || pidStartTime(k.pid) === k.pidStart)) victims.add(k.pid);
    }
    for (const pid of pidsWithEnv(`BATON_INSTANCE=${this.opts.instance}`)) victims.add(pid);
    if (victims.size === 0) return [];
    for (const pid of victims) killGroup(pid, 'SIGTERM');
    const deadline = Date.now() + RECOVER_GRACE_MS;
    while (Date.now() < deadline && [...victims].some(alive)) await new Promise((r) => setTimeout(r, 50));
    for (const pid of victims) if (alive(pid)) killGroup(pid, 'SIGKILL');
    return [];
  }

  async exec(taskId: string, probe: { argv: string[] } | { shell: string }, timeoutMs: number): Promise<{ exitCode: number | null; output: string; paused?: boolean }> {
    const p = this.procs.get(taskId);
    if (!p || p.exited) return { exitCode: null, output: 'task is not running here' };
    if (p.paused) return { exitCode: null, output: 'paused', paused: true };
    const spec = p.spec;
    const argv = 'argv' in probe ? probe.argv : ['/bin/sh', '-c', probe.shell];
    // A probe sees what the task sees: its files and hosts, in its namespace.
    const [cmd, ...args] = p.ns ? [this.tools!.nsenter, ...enterArgs(p.ns, { wd: spec.workingDir }, argv)] : argv;
    return new Promise((resolve) => {
      let output = '';
      // The task's markers too: recover() after a crash finds a probe left behind as it finds the task.
      // BATON_PROBE tells a probe from its task in `ps e` and to tests counting a task's processes.
      const env = { ...spec.env, BATON_INSTANCE: this.opts.instance, BATON_TASK_ID: taskId, BATON_PROBE: '1' };
      const child = spawn(cmd, args, { cwd: spec.workingDir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const leader = child.pid;
      if (leader) p.probes.add(leader);
      const take = (d: Buffer): void => {
        if (output.length < 4096) output += d.toString('utf8').slice(0, 4096 - output.length);
      };
      child.stdout!.on('data', take);
      child.stderr!.on('data', take);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        if (child.pid) killGroup(child.pid, 'SIGKILL');
      }, timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        if (leader) p.probes.delete(leader);
        resolve({ exitCode: 127, output: err.message });
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        if (leader) p.probes.delete(leader);
        resolve({ exitCode: timedOut ? null : code ?? 1, output });
      });
    });
  }

  async logs(taskId: string, opts: { tail?: number; follow?: boolean; signal?: AbortSignal }, onLine: (l: LogLine) => void): Promise<void> {
    // Read and subscribe in one tick: writes are synchronous, so no line falls between.
    const lines = readLogFiles(this.logPath(taskId), this.maxFiles);
    const live = this.procs.get(taskId);
    let unsubscribe: (() => void) | undefined;
    if (opts.follow && live && !opts.signal?.aborted) unsubscribe = live.log.subscribe(onLine);
    const from = opts.tail === undefined ? 0 : Math.max(0, lines.length - opts.tail);
    for (let i = from; i < lines.length; i++) onLine(lines[i]);
    if (!opts.follow) return;
    await new Promise<void>((resolve) => {
      if (opts.signal?.aborted) return resolve();
      opts.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    unsubscribe?.();
  }

  async remove(taskId: string): Promise<void> {
    removeLogFiles(this.logPath(taskId), this.maxFiles);
  }

  async close(): Promise<void> {
    this.handlers.length = 0;
  }

  /** A mount namespace with the task's files at their targets, when this driver makes them and the task has files. */
  private async namespaceFor(spec: RunSpec): Promise<MountNamespace | undefined> {
    const entries = spec.files?.entries ?? [];
    if (!this.tools || entries.length === 0) return undefined;
    const files = entries.map((e) => ({ source: e.hostPath, target: e.target }));
    // /run/secrets is the task's own: a private tmpfs, whatever the host has there.
    const empty = entries.some((e) => e.kind === 'secret' && e.target.startsWith('/run/secrets/')) ? ['/run/secrets'] : [];
    try {
      return await openNamespace(this.tools, planMounts(files, { work: this.workDir, empty }));
    } catch (err) {
      const e = err as Error;
      throw new TaskStartError(`cannot place secrets and configs: ${e.message}`, e instanceof MountPlanError ? 'invalid' : 'other');
    }
  }

  /** Command lookups are cached briefly: starting 200 replicas of one service looks the command up once. */
  private resolve(cmd: string, path: string, cwd: string): Promise<string | undefined> {
    const key = `${cmd}\0${path}\0${cwd}`;
    let hit = this.resolved.get(key);
    if (!hit) {
      hit = resolveCommand(cmd, path, cwd);
      this.resolved.set(key, hit);
      setTimeout(() => this.resolved.delete(key), RESOLVE_CACHE_MS).unref();
    }
    return hit;
  }

  private logPath(taskId: string): string {
    return join(this.logDir, `${taskId.replace(/[^A-Za-z0-9_.-]/g, '_')}.log`);
  }
}

export function createProcessDriver(opts: ProcessDriverOptions): Driver {
  return new ProcessDriver(opts);
}

function handOver(files: NonNullable<RunSpec['files']>, ids: { uid: number; gid: number }): void {
  const dirs = new Set<string>();
  for (const f of files.entries) {
    for (let d = dirname(f.hostPath); d.startsWith(files.dir); d = dirname(d)) dirs.add(d);
    chownSync(f.hostPath, f.uid ?? ids.uid, f.gid ?? ids.gid);
  }
  for (const d of dirs) chownSync(d, ids.uid, ids.gid);
}

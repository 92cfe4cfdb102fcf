import os from 'node:os';
import { resolve } from 'node:path';
import type { AttachOptions, AttachedSession, Driver, ExitInfo } from '../drivers/driver.js';
import { TaskStartError } from '../drivers/driver.js';
import type { CertManager, HttpIngress, Mesh } from '../mesh/index.js';
import { readFileSync } from 'node:fs';
import { allocatePort } from '../mesh/index.js';
import type { NodeInfo, Project, Service, Task, TaskPort } from '../model/types.js';
import type { RunOnceRequest } from '../model/one-off.js';
import { isTerminal } from '../model/task.js';
import { newId, now } from '../model/time.js';
import type { ControlPlane, NodeView, TaskObserved, TaskReport } from './control-plane.js';
import { certSources, ingressRoutes, meshRoutes } from './endpoints.js';
import { hostsEntries, serviceNameAddresses, taskArgv, taskEnvironment, type ServiceNames } from './environment.js';
import { containerSpec } from './container-spec.js';
import { hooksOf, runHooks, type Hook } from './hooks.js';
import { sessionDone } from '../model/stdio.js';
import { ComposeValueError } from '../model/compose-values.js';
import { HealthProbe } from './health.js';
import { DnsServer } from '../mesh/index.js';
import { blockCidr, type AddressBlock } from './addresses.js';
import { LocalAddresses } from './local-addresses.js';
import { projectDns, serviceVips } from './service-vips.js';
import { pruneTaskFiles, removeTaskFiles, writeTaskFiles } from './task-files.js';

const HEARTBEAT_MS = 5_000;
const SUBNETS_MS = 10_000;

interface Local {
  task: Task;
  svc: Service;
  phase: 'starting' | 'running' | 'stopping' | 'gone';
  probe?: HealthProbe;
  /** Why baton itself ended it, when it did (unhealthy). */
  killedFor?: string;
}

/** `baton run`: what differs from the service for a one-off container. */
export type { RunOnceRequest } from '../model/one-off.js';

export interface AgentOptions {
  nodeId: string;
  cp: ControlPlane;
  drivers: Map<string, Driver>;
  mesh: Mesh;
  log?: (msg: string) => void;
  /** Environment the host basics (PATH, HOME...) come from. */
  hostEnv?: NodeJS.ProcessEnv;
  /** Where tasks' secret and config files are written (memory-backed when the host allows). */
  filesRoot: string;
  /** The node's HTTP ingress, fed the routes of services with a domain. */
  ingress?: HttpIngress;
  /** Certificates for the HTTPS ingress. */
  certs?: CertManager;
  /** How this node describes itself when it registers (a cluster agent; the daemon's node is a manager on loopback). */
  identity?: Partial<Pick<NodeInfo, 'hostname' | 'address' | 'role' | 'labels' | 'apiPort' | 'version'>>;
  heartbeatMs?: number;
  /**
   * A member of a cluster: each container port also gets a port of this node
   * (TaskPort.nodePort) where other nodes reach it. A lone daemon has no
   * other nodes and takes none.
   */
  nodePorts?: boolean;
  /**
   * Service names for process tasks: each service with ports gets a loopback
   * address of its own, where the mesh listens on its target ports, named in
   * process tasks' hosts files (see serviceNameAddresses for the cost). Linux
   * only. Default: BATON_SERVICE_NAMES=1 in the environment.
   */
  serviceNames?: boolean;
  /**
   * Service VIPs and DNS for containers (see serviceVips): the block the
   * addresses come from, e.g. 10.213.0.0/16. Linux and root only; off when absent.
   */
  serviceSubnet?: AddressBlock;
}

/**
 * Runs the tasks the scheduler put on this node: starts them through their
 * driver, stops them when their desired state says so, probes their health,
 * reports what it sees, and keeps the mesh routing to healthy endpoints.
 */
export class Agent {
  private readonly local = new Map<string, Local>();
  /** One-off containers of `baton run`, waiting for their exit. */
  private readonly oneOffs = new Map<string, (info: ExitInfo) => void>();
  private pending: TaskReport[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private view: NodeView | undefined;
  private routesTimer: NodeJS.Timeout | undefined;
  private recovered = false;
  private closed = false;
  private readonly log: (msg: string) => void;
  private readonly serviceNames: boolean;
  private readonly vips: { block: AddressBlock; dns: DnsServer; addresses: LocalAddresses } | undefined;
  /** Each project's container subnets on this node, as last read from the engine (see vipSources). */
  private readonly subnets = new Map<string, { at: number; list: string[] }>();

  constructor(private readonly opts: AgentOptions) {
    this.log = opts.log ?? (() => {});
    this.serviceNames = process.platform === 'linux' && (opts.serviceNames ?? process.env.BATON_SERVICE_NAMES === '1');
    this.vips = opts.serviceSubnet && process.platform === 'linux' && process.getuid?.() === 0
      ? { block: opts.serviceSubnet, dns: new DnsServer(), addresses: new LocalAddresses(opts.serviceSubnet) }
      : undefined;
    for (const d of opts.drivers.values()) {
      d.on({ exited: (id, info) => this.onExit(id, info) });
    }
  }

  async start(): Promise<void> {
    await this.register();
    this.heartbeat = setInterval(() => void this.opts.cp.heartbeat(this.opts.nodeId).catch(() => {}), this.opts.heartbeatMs ?? HEARTBEAT_MS);
    this.heartbeat.unref();
    // Recovery finishes before start() returns, so the API never shows tasks the old process lost as running.
    let first: Promise<void> | undefined;
    this.unsubscribe = await this.opts.cp.subscribe((v) => {
      const p = this.onView(v);
      first ??= p;
    });
    await first;
    await this.flush();
  }

  /**
   * A driver that became available after the start (an engine started after
   * the daemon): its exits are watched, and the node registers again so the
   * scheduler and `node ls` know it offers the driver now.
   */
  async addDriver(name: string, driver: Driver): Promise<void> {
    if (this.opts.drivers.get(name) === driver) return;
    driver.on({ exited: (id, info) => this.onExit(id, info) });
    this.opts.drivers.set(name, driver);
    if (!this.closed) await this.register();
  }

  /** Tells the control plane what this node is and offers (registering again keeps what managers set: availability, labels). */
  private async register(): Promise<void> {
    const drivers: string[] = [];
    let engineLabels: Record<string, string> | undefined;
    for (const [name, d] of this.opts.drivers) {
      if (!(await d.available())) continue;
      drivers.push(name);
      const own = await d.engineLabels?.().catch(() => undefined);
      if (own) engineLabels = { ...engineLabels, ...own };
    }
    const node: NodeInfo = {
      id: this.opts.nodeId,
      hostname: this.opts.identity?.hostname ?? os.hostname(),
      address: this.opts.identity?.address ?? '127.0.0.1',
      role: this.opts.identity?.role ?? 'manager',
      availability: 'active',
      labels: this.opts.identity?.labels ?? {},
      ...(this.opts.identity?.apiPort ? { apiPort: this.opts.identity.apiPort } : {}),
      ...(engineLabels ? { engineLabels } : {}),
      ...(this.opts.identity?.version ? { version: this.opts.identity.version } : {}),
      capacity: { cpus: os.cpus().length, memoryBytes: os.totalmem() },
      drivers,
      state: 'ready',
      heartbeatAt: now(),
    };
    await this.opts.cp.register(node);
  }

  /** Stops watching; with `stopTasks` also stops every task it runs (daemon shutdown). */
  async close(stopTasks: boolean): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.routesTimer) clearTimeout(this.routesTimer);
    if (stopTasks) {
      await Promise.all([...this.local.values()].map((l) => this.stopLocal(l)));
    }
    if (this.vips) {
      await this.vips.dns.close();
      // Containers left running keep their addresses for the next agent; with nothing left, neither is anything else.
      if (stopTasks) await this.vips.addresses.clear().catch(() => {});
    }
    for (const l of this.local.values()) l.probe?.stop();
    await this.flush();
  }

  private async onView(v: NodeView): Promise<void> {
    this.view = v;
    if (!this.recovered) {
      this.recovered = true;
      await this.recover(v);
    }
    for (const t of v.tasks) {
      if (t.node !== this.opts.nodeId) continue;
      const l = this.local.get(t.id);
      const svc = v.services.get(`${t.project}/${t.service}`);
      if (t.desiredState === 'running') {
        if (!l && t.state === 'assigned' && svc) void this.startTask(t, svc);
        else if (l) l.task = t;
      } else if (l && l.phase !== 'gone' && l.phase !== 'stopping') {
        void this.stopLocal(l);
      } else if (!l && (t.state === 'assigned' || t.state === 'preparing' || t.state === 'starting' || t.state === 'running')) {
        this.report(t, { state: 'shutdown', finishedAt: now() });
      }
    }
    this.scheduleRoutes();
  }

  /**
   * After a restart: the driver keeps what still runs and is watchable again;
   * every other task the store thinks runs here was lost with the old process.
   * Those are reported orphaned, which the controllers replace whatever the
   * restart policy, since the task did not fail: the daemon did.
   */
  private async recover(v: NodeView): Promise<void> {
    const mine = v.tasks.filter((t) => t.node === this.opts.nodeId && !isTerminal(t.state) && t.state !== 'assigned');
    for (const [name, d] of this.opts.drivers) {
      const known = mine.filter((t) => t.driver === name).map((t) => ({ taskId: t.id, pid: t.pid, pidStart: t.pidStart }));
      let alive: { taskId: string }[] = [];
      try {
        alive = await d.recover(known);
      } catch (err) {
        this.log(`driver ${name}: recover failed: ${(err as Error).message}`);
      }
      const aliveIds = new Set(alive.map((a) => a.taskId));
      for (const t of mine.filter((x) => x.driver === name)) {
        const svc = v.services.get(`${t.project}/${t.service}`);
        if (aliveIds.has(t.id) && svc) {
          const l: Local = { task: t, svc, phase: 'running' };
          this.local.set(t.id, l);
          this.startProbe(l);
        } else {
          // Adopted but no longer wanted here: not left running unwatched.
          if (aliveIds.has(t.id)) void d.stop(t.id, { signal: 'SIGTERM', graceMs: 10_000 });
          this.report(t, { state: 'orphaned', error: 'lost when the daemon restarted', finishedAt: now(), pid: undefined });
        }
      }
    }
    // Tasks of a driver this daemon no longer has (no engine answers now) cannot be watched: replaced, as lost.
    for (const t of mine.filter((x) => !this.opts.drivers.has(x.driver))) {
      this.report(t, { state: 'orphaned', error: `driver "${t.driver}" is not available after the restart`, finishedAt: now(), pid: undefined });
    }
    pruneTaskFiles(this.opts.filesRoot, new Set(this.local.keys()));
  }

  private async startTask(t: Task, svc: Service): Promise<void> {
    const l: Local = { task: t, svc, phase: 'starting' };
    this.local.set(t.id, l);
    const driver = this.opts.drivers.get(t.driver);
    if (!driver) {
      this.local.delete(t.id);
      this.report(t, { state: 'rejected', error: `driver "${t.driver}" is not available on this node`, finishedAt: now() });
      return;
    }
    try {
      const ports: TaskPort[] = [];
      for (const p of svc.ports) ports.push({ target: p.target, protocol: p.protocol, hostIp: '127.0.0.1', hostPort: await allocatePort('127.0.0.1') });
      const project = [...(this.view?.services.values() ?? [])].filter((s) => s.project === t.project);
      const nameServer = this.vips && this.view ? projectDns(this.view.services, this.vips.block).get(t.project) : undefined;
      // A process task in a mount namespace also gets a hosts file of its own, when there are names to add, and with service VIPs a resolv.conf.
      const ownMounts = !driver.runsContainers && driver.filesAtTargets === true;
      const hosts = ownMounts ? hostsEntries(svc, project, this.names()) || undefined : undefined;
      const resolver = ownMounts ? nameServer : undefined;
      const hasFiles = (svc.files ?? []).length > 0;
      const written = hasFiles || hosts !== undefined || resolver !== undefined
        ? writeTaskFiles(this.opts.filesRoot, t.id, hasFiles ? await this.opts.cp.taskFiles(svc) : [], { atTargets: driver.filesAtTargets, hosts, nameServer: resolver })
        : undefined;
      const container = driver.runsContainers ? containerSpec(t, svc, this.view?.projects?.get(t.project), ports, nameServer ? { nameServer } : undefined) : undefined;
      // A container sees its secrets and configs at their targets, bind-mounted read-only from the task's folder.
      if (container && written) for (const f of written.files) container.mounts.push({ type: 'bind', source: f.hostPath, target: f.target, readOnly: true });
      const run = await driver.start({
        task: t,
        argv: taskArgv(svc),
        env: container ? container.env : { ...taskEnvironment(t, svc, ports, project, this.opts.hostEnv ?? process.env), ...written?.env },
        container,
        ...(written ? { files: { dir: written.dir, entries: written.files } } : {}),
        workingDir: resolve(svc.workingDir, svc.spec.working_dir ?? '.'),
        user: svc.spec.user,
        stopSignal: svc.stopSignal,
        stopGraceMs: svc.stopGraceMs,
        ...(container ? { registryAuth: (image: string) => this.opts.cp.registryAuth(t.project, image) } : {}),
      });
      if (l.phase === 'gone') return; // exited before start() returned; onExit reported it
      const reported = run.ports ?? ports;
      // A container's ports answer only on this node (its bridge, or the engine's loopback binding):
      // other nodes come in through this node's mesh at a port of its own.
      if (driver.runsContainers && this.opts.nodePorts) for (const p of reported) p.nodePort = await allocatePort('0.0.0.0');
      l.phase = 'running';
      // Its network may be new: the project's VIPs read the subnets again.
      if (container) this.subnets.delete(t.project);
      this.report(t, {
        state: 'running',
        pid: run.pid,
        pidStart: run.pidStart,
        ...(run.joins ? { joins: run.joins } : {}),
        ports: reported,
        startedAt: now(),
        health: svc.healthcheck ? 'starting' : 'none',
        message: undefined,
        error: undefined,
      });
      this.startProbe(l);
      void this.opts.cp.event({ type: 'task.start', project: t.project, service: t.service, task: t.id, node: this.opts.nodeId, message: `started slot ${t.slot}${run.pid ? ` (pid ${run.pid})` : ''}` });
      const postStart = hooksOf(svc, 'post_start');
      if (postStart.length > 0) void this.afterStart(l, driver, postStart);
      if (l.task.desiredState === 'shutdown') void this.stopLocal(l);
    } catch (err) {
      this.local.delete(t.id);
      removeTaskFiles(this.opts.filesRoot, t.id);
      const msg = err instanceof TaskStartError || err instanceof ComposeValueError ? err.message : `could not start: ${(err as Error).message}`;
      this.report(t, { state: 'rejected', error: msg, finishedAt: now() });
      void this.opts.cp.event({ type: 'task.reject', project: t.project, service: t.service, task: t.id, node: this.opts.nodeId, message: msg });
    }
  }

  private startProbe(l: Local): void {
    const check = l.svc.healthcheck;
    const driver = this.opts.drivers.get(l.task.driver);
    if (!check || !driver) return;
    const probe = check.test.kind === 'exec' ? { argv: check.test.argv } : { shell: check.test.command };
    l.probe = new HealthProbe(check, (timeout) => driver.exec(l.task.id, probe, timeout), (h, output) => {
      this.report(l.task, { health: h });
      void this.opts.cp.event({
        type: `task.${h}`,
        project: l.task.project,
        service: l.task.service,
        task: l.task.id,
        node: this.opts.nodeId,
        message: h === 'unhealthy' ? `slot ${l.task.slot} unhealthy: ${output.trim().slice(0, 200)}` : `slot ${l.task.slot} ${h}`,
      });
      // As Swarm does: an unhealthy task is replaced, when the policy restarts at all.
      if (h === 'unhealthy' && l.svc.restart.condition !== 'none') {
        l.killedFor = 'unhealthy';
        void this.stopLocal(l);
      }
    });
    l.probe.start();
  }

  /** `post_start` hooks, once the task runs: the first that fails stops the task, which then counts as failed. */
  private async afterStart(l: Local, driver: Driver, hooks: Hook[]): Promise<void> {
    const failed = await runHooks(driver, l.task.id, 'post_start', hooks);
    if (!failed || l.phase !== 'running') return;
    l.killedFor = failed;
    void this.opts.cp.event({ type: 'task.hook', project: l.task.project, service: l.task.service, task: l.task.id, node: this.opts.nodeId, message: `slot ${l.task.slot}: ${failed}` });
    await this.stopLocal(l);
  }

  private async stopLocal(l: Local): Promise<void> {
    if (l.phase === 'gone' || l.phase === 'stopping') return;
    const wasRunning = l.phase === 'running';
    l.phase = 'stopping';
    l.probe?.stop();
    const driver = this.opts.drivers.get(l.task.driver);
    // Out of the routing before the stop signal: new connections go elsewhere, open ones finish.
    if (!this.closed) await this.applyRoutes().catch((err: Error) => this.log(`mesh: ${err.message}`));
    // pre_stop hooks before the stop signal, as Compose runs them, within the grace period; a task whose post_start failed has none.
    const preStop = hooksOf(l.svc, 'pre_stop');
    if (driver && wasRunning && preStop.length > 0 && !l.killedFor?.startsWith('post_start')) {
      const failed = await runHooks(driver, l.task.id, 'pre_stop', preStop, AbortSignal.timeout(Math.max(1000, l.svc.stopGraceMs)));
      if (failed) void this.opts.cp.event({ type: 'task.hook', project: l.task.project, service: l.task.service, task: l.task.id, node: this.opts.nodeId, message: `slot ${l.task.slot}: ${failed}` });
    }
    await driver?.stop(l.task.id, { signal: l.svc.stopSignal, graceMs: l.svc.stopGraceMs });
  }

  /** `baton run` without stdin or TTY: the one-off container's output to onOutput, its exit code at the end; aborting stops it. */
  async runOnce(svc: Service, req: RunOnceRequest, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void, signal: AbortSignal): Promise<number | null> {
    return sessionDone(await this.runAttached(svc, req, { tty: false, stdin: false }, onOutput), signal);
  }

  /**
   * `baton run`: a one-off container of a service, on its networks with its
   * volumes, secrets and environment, but answering to no service name (the
   * controllers never see it); attached from its first byte, with stdin and a
   * TTY when asked. `done` resolves with its exit code once it is gone (with
   * rm); `close` stops it. `project`: the service's project record, when a
   * manager relays the run to a node whose view may not hold it.
   */
  async runAttached(svc: Service, req: RunOnceRequest, io: AttachOptions, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void, project?: Project): Promise<AttachedSession> {
    const driver = this.opts.drivers.get(svc.driver);
    if (!driver?.runsContainers || !driver.startAttached) throw new TaskStartError(`run needs a container; service "${svc.name}" runs on the ${svc.driver} driver`, 'invalid');
    const task = { id: `run-${newId()}`, project: svc.project, service: svc.name, slot: 0 };
    const container = containerSpec(task, svc, project ?? this.view?.projects?.get(svc.project), []);
    container.serviceAlias = '';
    for (const n of container.networks) n.aliases = [];
    if (req.entrypoint) container.entrypoint = req.entrypoint;
    if (req.argv && req.argv.length > 0) container.command = req.argv;
    for (const kv of req.env ?? []) {
      const i = kv.indexOf('=');
      if (i > 0) container.env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    if (req.workdir) container.workingDir = req.workdir;
    const exited = new Promise<ExitInfo>((res) => this.oneOffs.set(task.id, res));
    const cleanup = async (): Promise<void> => {
      this.oneOffs.delete(task.id);
      removeTaskFiles(this.opts.filesRoot, task.id);
      if (req.rm) await driver.remove(task.id);
    };
    let session: AttachedSession;
    try {
      const written = (svc.files ?? []).length > 0 ? writeTaskFiles(this.opts.filesRoot, task.id, await this.opts.cp.taskFiles(svc)) : undefined;
      if (written) for (const f of written.files) container.mounts.push({ type: 'bind', source: f.hostPath, target: f.target, readOnly: true });
      const spec = { task, argv: [], env: container.env, container, workingDir: '/', user: req.user ?? svc.spec.user, stopSignal: svc.stopSignal, stopGraceMs: svc.stopGraceMs, registryAuth: (image: string) => this.opts.cp.registryAuth(task.project, image) };
      ({ session } = await driver.startAttached(spec, io, onOutput));
    } catch (err) {
      await cleanup();
      throw err;
    }
    const done = (async (): Promise<number | null> => {
      try {
        // The stream ends with the container; the exit code is the one the driver reports for it.
        await session.done;
        return (await exited).exitCode;
      } finally {
        await cleanup();
      }
    })();
    return {
      write: (data) => session.write(data),
      end: () => session.end(),
      resize: (size) => session.resize(size),
      done,
      close: () => void driver.stop(task.id, { signal: svc.stopSignal, graceMs: svc.stopGraceMs }),
    };
  }

  private onExit(taskId: string, info: ExitInfo): void {
    const oneOff = this.oneOffs.get(taskId);
    if (oneOff) return oneOff(info);
    const l = this.local.get(taskId);
    if (!l) return;
    const wasStopping = l.phase === 'stopping';
    l.phase = 'gone';
    l.probe?.stop();
    this.local.delete(taskId);
    removeTaskFiles(this.opts.filesRoot, taskId);
    // Stopped with the daemon: not the task's failure; the next daemon replaces it.
    if (this.closed) {
      this.report(l.task, { state: 'orphaned', error: 'stopped with the daemon', exitCode: info.exitCode, finishedAt: now(), pid: undefined });
      return;
    }
    const how = info.error ?? (info.signal ? `killed by ${info.signal}` : `exited with code ${info.exitCode}`);
    const observed: TaskObserved = { exitCode: info.exitCode, finishedAt: now(), pid: undefined };
    if (l.killedFor) Object.assign(observed, { state: 'failed', error: `${l.killedFor}; ${how}` });
    else if (wasStopping || l.task.desiredState === 'shutdown') Object.assign(observed, { state: 'shutdown' });
    else if (info.exitCode === 0) Object.assign(observed, { state: 'complete' });
    else Object.assign(observed, { state: 'failed', error: how });
    this.report(l.task, observed);
    this.scheduleRoutes();
    if (!wasStopping) {
      void this.opts.cp.event({ type: 'task.die', project: l.task.project, service: l.task.service, task: taskId, node: this.opts.nodeId, message: `slot ${l.task.slot} ${how}` });
    }
  }

  /** Reports are batched: one store write for many tasks under load. */
  private report(t: Pick<Task, 'id' | 'project' | 'service'>, observed: TaskObserved): void {
    this.pending.push({ task: { id: t.id, project: t.project, service: t.service }, observed: { ...observed } });
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        void this.flush();
      }, 5);
    }
  }

  private flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const batch = this.pending;
      this.pending = [];
      if (batch.length === 0) return;
      try {
        await this.opts.cp.report(batch);
      } catch (err) {
        this.log(`report failed, retrying: ${(err as Error).message}`);
        this.pending.unshift(...batch);
        if (!this.closed) setTimeout(() => void this.flush(), 200);
      }
    });
    return this.flushing;
  }

  private names(): ServiceNames | undefined {
    return this.serviceNames && this.view ? serviceNameAddresses(this.view.services.values(), this.opts.nodeId) : undefined;
  }

  /**
   * Who may connect to a project's VIPs on this node: its containers (the
   * subnets of its networks here) and the host itself (its own addresses and
   * the VIP block: process tasks share the host's network, as before), so a
   * container of another project cannot reach ports this one only exposes, as
   * separate Compose networks keep them apart. Subnets are read from the
   * engine at most every 10 s, and again once a container of the project starts.
   */
  private async vipSources(projects: string[]): Promise<Map<string, string[]>> {
    const host = ['127.0.0.0/8', blockCidr(this.vips!.block)];
    for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4') host.push(`${a.address}/32`);
    const out = new Map<string, string[]>();
    const now = Date.now();
    for (const p of projects) {
      let cached = this.subnets.get(p);
      if (!cached || now - cached.at > SUBNETS_MS) {
        const spec = this.view?.projects?.get(p)?.spec.networks ?? {};
        const names = [...new Set([`${p}_default`, ...Object.entries(spec).map(([key, cfg]) => cfg?.name ?? `${p}_${key}`)])];
        const list: string[] = [];
        for (const d of this.opts.drivers.values()) list.push(...((await d.networkSubnets?.(names).catch(() => [])) ?? []));
        cached = { at: now, list };
        this.subnets.set(p, cached);
      }
      out.set(p, [...host, ...cached.list]);
    }
    for (const p of this.subnets.keys()) if (!projects.includes(p)) this.subnets.delete(p);
    return out;
  }

  private scheduleRoutes(): void {
    if (this.routesTimer || this.closed) return;
    this.routesTimer = setTimeout(() => {
      this.routesTimer = undefined;
      void this.applyRoutes();
    }, 10);
  }

  private async applyRoutes(): Promise<void> {
    if (!this.view) return;
    // Tasks being stopped leave the routing first, so they can finish in peace.
    const stopping = new Set([...this.local.values()].filter((l) => l.phase !== 'running').map((l) => l.task.id));
    const tasks = this.view.tasks.filter((t) => !stopping.has(t.id));
    const where = { self: this.opts.nodeId, nodes: this.view.nodes };
    const routes = meshRoutes(this.view.services, tasks, where, this.names()?.listeners);
    const vips = this.vips ? serviceVips(this.view.services, tasks, where, this.vips.block) : undefined;
    if (this.vips && vips) {
      // The addresses first: a listener cannot open on an address the node does not hold.
      const err = await this.vips.addresses.sync(vips.addresses);
      if (err) this.log(`service addresses: ${err}`);
      const sources = await this.vipSources([...vips.dns.keys()]);
      // Route ids start with the service id, project/name: a project's VIPs let in only its own.
      for (const r of vips.routes) r.sources = sources.get(r.id.slice(0, r.id.indexOf('/')));
      routes.push(...vips.routes);
    }
    const result = await this.opts.mesh.apply(routes);
    for (const e of result.errors ?? []) this.log(`mesh: ${e.message}`);
    if (this.vips && vips) for (const e of await this.vips.dns.apply(vips.zones)) this.log(`dns: ${e.message}`);
    if (this.opts.certs) {
      const { sources, errors } = certSources(this.view.services, (p) => readFileSync(p, 'utf8'));
      for (const e of errors) this.log(`ingress: ${e}`);
      this.opts.certs.ensure(sources);
    }
    await this.opts.ingress?.apply(ingressRoutes(this.view.services, tasks, where));
  }
}

import { existsSync, mkdirSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import Docker from 'dockerode';
import type { ContainerCreateOptions, ContainerInfo, MountSettings, NetworkInspectInfo } from 'dockerode';
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { posix } from 'node:path';
import type { AttachOptions, AttachedSession, BlkioOptions, Driver, DriverEvents, ExecOptions, ExitInfo, LogLine, RunSpec, RunningTask, ContainerNetwork, ContainerVolume, TaskStats, TermSize } from '../driver.js';
import { LABEL, TaskStartError } from '../driver.js';
import type { TaskPort } from '../../model/types.js';
import type { RegistryAuth } from '../../model/image-ref.js';
import { Demuxer, LogLines } from './stream.js';
import { engineSocket } from './socket.js';
import { buildImage, followProgress, type BuildSpec } from './build.js';
import { isDir, isSymlink, parsePathStat, renameTop, splitDest, tarTop, type PathStat } from './archive.js';

export interface DockerDriverOptions {
  /** Only objects carrying this instance label are ever adopted or removed: other daemons' and the user's stay untouched. */
  instance: string;
  /** `unix:///path` or a socket path; default: $DOCKER_HOST, then /var/run/docker.sock. */
  host?: string;
  log?: (msg: string) => void;
  /**
   * Where an image this engine lacks can come from besides a registry: a
   * `docker save` tar from another node (a cluster's manager, where `build:`
   * images are built), or undefined when that node has none either.
   */
  imageSource?: (image: string) => Promise<NodeJS.ReadableStream | undefined>;
}

/** The parts of the engine's stats answer that `stats()` reads. */
interface EngineStats {
  cpu_stats: { cpu_usage: { total_usage: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats: { cpu_usage?: { total_usage: number }; system_cpu_usage?: number };
  memory_stats: { usage?: number; limit?: number; stats?: { inactive_file?: number; total_inactive_file?: number; cache?: number } };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
  pids_stats?: { current?: number };
}

/** An engine error as dockerode gives it. */
interface EngineError extends Error {
  statusCode?: number;
  json?: { message?: string } | null;
}

interface Tracked {
  id: string;
  taskId: string;
  /** project/service/slot: an exited container is kept (for its logs) until the next one of its slot starts. */
  slot: string;
  /** Set when baton stopped it: its container goes once it has exited. */
  stopping: boolean;
  /** Frozen by `baton pause`: its health probes wait. */
  paused?: boolean;
  exited?: ExitInfo;
  waiters: (() => void)[];
  wait: AbortController;
}

type Output = (stream: 'stdout' | 'stderr', data: Buffer) => void;

const PING_TIMEOUT_MS = 2_000;
/** An exec's stream can end a moment before the engine marks it done: how long to wait for its exit code. */
const EXEC_EXIT_WAIT_MS = 5_000;
/** Replicas starting together look their image up once. */
const IMAGE_CACHE_MS = 2_000;
const imageKey = (image: string, policy: string, platform = ''): string => `${image}\0${policy}\0${platform}`;

/** The socket the engine listens on, from DOCKER_HOST (unix only) or the default. */

function engineMessage(err: unknown): string {
  const e = err as EngineError;
  return (e.json?.message ?? e.message ?? String(err)).replace(/^\(HTTP code \d+\) [a-z ]+ - /, '').trim();
}

const isStatus = (err: unknown, code: number): boolean => (err as EngineError).statusCode === code;

/**
 * Runs tasks as containers through the Docker Engine API (Docker, or
 * Podman's compatible socket). Restarts are baton's, not the engine's (restart
 * policy "no"), so a crash is seen and counted as for every other driver.
 * Every container, network and volume it creates carries baton's labels and
 * this daemon's instance label; nothing else is ever touched.
 */
export class DockerDriver implements Driver {
  readonly name = 'docker';
  readonly runsContainers = true;
  readonly docker: Docker;
  private readonly tracked = new Map<string, Tracked>();
  private readonly handlers: DriverEvents[] = [];
  /** One creation at a time per network/volume name: replicas starting together share it. */
  private readonly ensuring = new Map<string, Promise<boolean>>();
  private readonly images = new Map<string, Promise<void>>();
  /** Exited containers kept for their logs, by slot. */
  private readonly kept = new Map<string, string>();
  private readonly log: (msg: string) => void;
  private closed = false;

  constructor(private readonly opts: DockerDriverOptions) {
    this.docker = new Docker({ socketPath: engineSocket(opts.host) });
    this.log = opts.log ?? (() => {});
  }

  async engineLabels(): Promise<Record<string, string>> {
    const info = (await withTimeout(this.docker.info(), PING_TIMEOUT_MS)) as { Labels?: string[] };
    const out: Record<string, string> = {};
    for (const kv of info.Labels ?? []) {
      const i = kv.indexOf('=');
      if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return out;
  }

  async available(): Promise<boolean> {
    try {
      await withTimeout(this.docker.ping(), PING_TIMEOUT_MS);
      return true;
    } catch {
      return false;
    }
  }

  on(events: DriverEvents): void {
    this.handlers.push(events);
  }

  /** Whether the image is here; pulls it when the policy allows and it is not (or always). Throws a message for the user. */
  async ensureImage(image: string, policy: 'missing' | 'always' | 'never', credentials?: (image: string) => Promise<RegistryAuth | undefined>, platform?: string): Promise<void> {
    const present = await this.docker.getImage(image).inspect().then(() => true, (err: unknown) => {
      if (isStatus(err, 404)) return false;
      throw err;
    });
    if (present && policy !== 'always') return;
    // Missing here: first from the cluster (a built image exists nowhere else, and a copy on the LAN beats a registry).
    if (!present && (await this.loadFromSource(image))) return;
    if (!present && policy === 'never') throw new Error(`image "${image}" is not present on this node${this.opts.imageSource ? ' nor on the manager' : ''} (pull_policy: never)`);
    try {
      // Credentials a deploy sent along; a manager that cannot give them still lets a public image pull.
      const auth = await credentials?.(image).catch((err: Error) => void this.log(`image ${image}: no registry credentials from the manager: ${err.message}`));
      await followProgress(this.docker, await this.docker.pull(image, { ...(auth ? { authconfig: auth } : {}), ...(platform ? { platform } : {}) }));
    } catch (err) {
      if (present) return; // "always" with no registry reachable: the local copy will do
      throw new Error(`image "${image}" is not present on this node and could not be pulled: ${engineMessage(err)}`);
    }
  }

  /** Loads an image from the imageSource into this engine; false when the source has none. */
  private async loadFromSource(image: string): Promise<boolean> {
    if (!this.opts.imageSource) return false;
    let tar: NodeJS.ReadableStream | undefined;
    try {
      tar = await this.opts.imageSource(image);
    } catch (err) {
      this.log(`image ${image}: could not fetch it from the manager: ${(err as Error).message}`);
      return false;
    }
    if (!tar) return false;
    try {
      await followProgress(this.docker, await this.docker.loadImage(tar));
    } catch (err) {
      throw new Error(`image "${image}" from the manager could not be loaded: ${engineMessage(err)}`);
    }
    if (!(await this.hasImage(image))) throw new Error(`image "${image}" from the manager did not load under that name`);
    this.log(`image ${image}: copied from the manager`);
    return true;
  }

  /** The image as a `docker save` tar, for another node's engine; undefined when it is not here. */
  async saveImage(image: string): Promise<NodeJS.ReadableStream | undefined> {
    if (!(await this.hasImage(image))) return undefined;
    return this.docker.getImage(image).get();
  }

  /** Whether the image is on this node. */
  async hasImage(image: string): Promise<boolean> {
    return this.docker.getImage(image).inspect().then(() => true, (err: unknown) => {
      if (isStatus(err, 404)) return false;
      throw err;
    });
  }

  /** Pulls an image, each progress line to onLine; rejects with the registry's or engine's own message. `auth`: the registry's credentials, for this pull only. */
  async pull(image: string, onLine: (line: string) => void, auth?: RegistryAuth, platform?: string): Promise<void> {
    try {
      await followProgress(this.docker, await this.docker.pull(image, { ...(auth ? { authconfig: auth } : {}), ...(platform ? { platform } : {}) }), (e) => {
        if (e.status) onLine(progressLine(e));
      });
    } catch (err) {
      throw new Error(engineMessage(err));
    }
    for (const k of this.images.keys()) if (k.startsWith(`${image}\0`)) this.images.delete(k);
  }

  /** Pushes an image to its registry, each progress line to onLine; rejects with the registry's or engine's message. */
  async push(image: string, onLine: (line: string) => void, auth?: RegistryAuth): Promise<void> {
    try {
      // The engine wants an X-Registry-Auth header on every push, even an anonymous one.
      const stream = await this.docker.getImage(image).push({ authconfig: auth ?? { serveraddress: '' } });
      await followProgress(this.docker, stream, (e) => {
        if (e.status) onLine(progressLine(e));
      });
    } catch (err) {
      throw new Error(engineMessage(err));
    }
  }

  /** Has the engine check credentials with the registry (`docker login`); rejects with the registry's answer. */
  async login(auth: RegistryAuth): Promise<{ status: string }> {
    try {
      const r = (await this.docker.checkAuth(auth)) as { Status?: string };
      return { status: r.Status ?? 'Login Succeeded' };
    } catch (err) {
      throw new Error(engineMessage(err));
    }
  }

  /** What `baton images` shows of an image on this node; undefined when it is not here. */
  async imageInfo(image: string): Promise<{ id: string; sizeBytes: number; created: string; platform: string } | undefined> {
    try {
      const i = (await this.docker.getImage(image).inspect()) as Docker.ImageInspectInfo & { Variant?: string };
      return { id: i.Id, sizeBytes: i.Size, created: i.Created, platform: `${i.Os}/${i.Architecture}${i.Variant ? `/${i.Variant}` : ''}` };
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  /** Removes an image (its tag; the layers too when nothing else uses them), as `docker rmi`. */
  async removeImage(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).remove();
    } catch (err) {
      throw new Error(engineMessage(err));
    }
    for (const k of this.images.keys()) if (k.startsWith(`${image}\0`)) this.images.delete(k);
  }

  /** Builds and tags an image (`build:`), streaming the builder's output; rejects with its message. `context`: a tar a remote client sent instead of the folder. */
  async build(spec: BuildSpec, onLine: (line: string) => void, context?: NodeJS.ReadableStream, auth?: Record<string, RegistryAuth>): Promise<void> {
    await buildImage(this.docker, { ...spec, labels: { ...spec.labels, [LABEL.instance]: this.opts.instance } }, onLine, context, auth).catch((err: unknown) => {
      throw new Error(engineMessage(err));
    });
    for (const k of this.images.keys()) if (k.startsWith(`${spec.tag}\0`)) this.images.delete(k);
  }

  private imageOnce(image: string, policy: 'missing' | 'always' | 'never', credentials?: (image: string) => Promise<RegistryAuth | undefined>, platform?: string): Promise<void> {
    const key = imageKey(image, policy, platform);
    let p = this.images.get(key);
    if (!p) {
      p = this.ensureImage(image, policy, credentials, platform);
      this.images.set(key, p);
      const forget = (): void => void setTimeout(() => this.images.delete(key), IMAGE_CACHE_MS).unref();
      p.then(forget, () => this.images.delete(key));
    }
    return p;
  }

  async start(spec: RunSpec): Promise<RunningTask> {
    return (await this.launch(spec)).running;
  }

  async startAttached(spec: RunSpec, io: AttachOptions, onOutput: Output): Promise<{ running: RunningTask; session: AttachedSession }> {
    const { running, session } = await this.launch(spec, { io, onOutput });
    if (io.tty && io.size) session!.resize(io.size);
    return { running, session: session! };
  }

  /** Creates and starts the container; with `attach`, attached (stdin, TTY) before it starts, so no output is missed. */
  private async launch(spec: RunSpec, attach?: { io: AttachOptions; onOutput: Output }): Promise<{ running: RunningTask; session?: AttachedSession }> {
    const c = spec.container;
    const id = spec.task.id;
    if (!c) throw new TaskStartError('the docker driver needs an image (set image:)', 'invalid');
    try {
      await this.imageOnce(c.image, c.pullPolicy, spec.registryAuth, c.platform);
    } catch (err) {
      throw new TaskStartError(engineMessage(err), 'not-found');
    }
    const [first, ...rest] = c.networks;
    let direct = false;
    for (const n of c.networks) {
      const reachable = await this.ensureNetwork(spec.task.project, n);
      if (n === first) direct = reachable;
    }
    for (const v of c.volumes) await this.ensureVolume(spec.task.project, v);
    const slot = `${spec.task.project}/${spec.task.service}/${spec.task.slot}`;
    // The slot's earlier container was kept for its logs; one per slot is enough.
    const old = this.kept.get(slot);
    if (old) {
      this.kept.delete(slot);
      await this.docker.getContainer(old).remove({ force: true }).catch(() => {});
    }

    // Ports: when this node reaches the container's network (a bridge on the host), the mesh routes
    // straight to the container's address: no docker-proxy per port, one hop less. Otherwise (rootless
    // engines) the engine publishes each port on the loopback port the agent chose. Either way baton's
    // mesh serves the published port in front of all replicas, so "8080:80" works with any number of them.
    // A namespace of another service's container (service:NAME) is that of one of its running containers here.
    const e = c.engine;
    const joins: string[] = [];
    const [networkMode, pidMode, ipcMode, volumesFrom] = await Promise.all([
      this.namespaceOf(spec.task.project, 'network_mode', e.networkMode, joins),
      this.namespaceOf(spec.task.project, 'pid', e.pid, joins),
      this.namespaceOf(spec.task.project, 'ipc', e.ipc, joins),
      Promise.all(e.volumesFrom.map((v) => this.volumesOf(spec.task.project, v))),
    ]);
    // On the host's network the container listens on the host's own ports (Docker discards published ones).
    const hostNetwork = networkMode === 'host';
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    // Another container's network namespace comes with its ports: the engine refuses any of our own.
    const sharedNetwork = networkMode?.startsWith('container:') === true;
    for (const p of c.ports) {
      if (!sharedNetwork) exposed[`${p.target}/${p.protocol}`] = {};
      if (!direct && !networkMode) bindings[`${p.target}/${p.protocol}`] = [{ HostIp: p.hostIp, HostPort: String(p.hostPort) }];
    }
    // A bind mount's missing host folder is made first, as Compose does for the short syntax (the engine's Mounts API would refuse it).
    for (const m of c.mounts) {
      if (m.type !== 'bind' || !m.createHostPath || !m.source || existsSync(m.source)) continue;
      try {
        mkdirSync(m.source, { recursive: true });
      } catch (err) {
        throw new TaskStartError(`could not create the bind mount's folder ${m.source}: ${(err as Error).message}`, 'permission');
      }
    }
    const mounts: MountSettings[] = c.mounts.map((m) => ({
      Type: m.type,
      Target: m.target,
      ReadOnly: m.readOnly,
      Source: m.source ?? '', // empty: an anonymous volume, or tmpfs
      ...(m.type === 'tmpfs' && m.tmpfsSize ? { TmpfsOptions: { SizeBytes: m.tmpfsSize, Mode: 0o1777 } } : {}),
      ...(m.type === 'bind' && m.propagation ? { BindOptions: { Propagation: m.propagation } } : {}),
    }));
    const tmpfs = Object.fromEntries(c.tmpfs.map((t) => {
      const i = t.indexOf(':');
      return i < 0 ? [t, ''] : [t.slice(0, i), t.slice(i + 1)];
    }));
    const create: ContainerCreateOptions = {
      name: `${spec.task.project}-${spec.task.service}-${spec.task.slot}-${id}`,
      Image: c.image,
      Env: Object.entries(c.env).map(([k, v]) => `${k}=${v}`),
      Labels: { ...c.labels, [LABEL.instance]: this.opts.instance },
      ExposedPorts: exposed,
      StopSignal: spec.stopSignal,
      StopTimeout: Math.ceil(spec.stopGraceMs / 1000),
      // baton probes health itself (through exec), so the image's own check would only cost CPU.
      Healthcheck: { Test: ['NONE'] },
      HostConfig: {
        RestartPolicy: { Name: 'no' },
        PortBindings: bindings,
        Mounts: mounts,
        NetworkMode: networkMode ?? first?.name ?? 'none',
        ...(pidMode ? { PidMode: pidMode } : {}),
        ...(ipcMode ? { IpcMode: ipcMode } : {}),
        ...(e.uts ? { UTSMode: e.uts } : {}),
        SecurityOpt: e.securityOpt,
        GroupAdd: e.groupAdd,
        DnsSearch: e.dnsSearch,
        DnsOptions: e.dnsOptions,
        StorageOpt: e.storageOpt,
        DeviceCgroupRules: e.deviceCgroupRules,
        // Unset ones are left out of the JSON body (undefined), so the engine's defaults hold.
        CgroupParent: e.cgroupParent,
        Runtime: e.runtime,
        UsernsMode: e.usernsMode,
        OomScoreAdj: e.oomScoreAdj,
        OomKillDisable: e.oomKillDisable,
        CpuShares: e.cpuShares,
        CpusetCpus: e.cpusetCpus,
        CpuQuota: e.cpuQuota,
        CpuPeriod: e.cpuPeriod,
        MemoryReservation: e.memoryReservationBytes,
        MemorySwap: e.memorySwapBytes,
        MemorySwappiness: e.memorySwappiness,
        ...(volumesFrom.length > 0 ? { VolumesFrom: volumesFrom } : {}),
        ...(e.blkio ? blkioConfig(e.blkio) : {}),
        Init: c.init,
        ReadonlyRootfs: c.readOnly,
        Privileged: c.privileged,
        CapAdd: c.capAdd,
        CapDrop: c.capDrop,
        Ulimits: c.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
        Sysctls: c.sysctls,
        ExtraHosts: c.extraHosts,
        Dns: c.dns,
        Tmpfs: tmpfs,
        Devices: c.devices.map((x) => ({ PathOnHost: x.host, PathInContainer: x.container, CgroupPermissions: x.permissions })),
        ...(c.shmSizeBytes !== undefined ? { ShmSize: c.shmSizeBytes } : {}),
        ...(c.nanoCpus !== undefined ? { NanoCpus: c.nanoCpus } : {}),
        ...(c.memoryBytes !== undefined ? { Memory: c.memoryBytes } : {}),
        ...(c.pidsLimit !== undefined ? { PidsLimit: c.pidsLimit } : {}),
        ...(c.logging ? { LogConfig: { Type: c.logging.driver, Config: c.logging.options } } : {}),
      },
      NetworkingConfig: first && !networkMode ? { EndpointsConfig: { [first.name]: endpoint(c.serviceAlias, first) } } : undefined,
    };
    if (e.tty) create.Tty = true;
    if (e.stdinOpen) create.OpenStdin = true;
    if (e.domainname !== undefined) create.Domainname = e.domainname;
    if (e.macAddress !== undefined) create.MacAddress = e.macAddress;
    if (attach) {
      const { tty, stdin } = attach.io;
      Object.assign(create, { Tty: tty, OpenStdin: stdin, StdinOnce: stdin, AttachStdin: stdin, AttachStdout: true, AttachStderr: true });
    }
    if (c.entrypoint !== undefined) create.Entrypoint = c.entrypoint;
    if (c.command !== undefined) create.Cmd = c.command;
    if (c.workingDir) create.WorkingDir = c.workingDir;
    if (c.hostname) create.Hostname = c.hostname;
    if (spec.user) create.User = spec.user;

    let container: Docker.Container;
    try {
      container = await this.createContainer(create, c.platform).catch(async (err: unknown) => {
        // The image was here a moment ago (the lookup is shared for a few seconds) and has been removed since
        // (docker rmi): look for it again, pulling as the policy says, and create once more.
        if (!isStatus(err, 404) || !/no such image/i.test(engineMessage(err))) throw err;
        this.images.delete(imageKey(c.image, c.pullPolicy, c.platform));
        await this.imageOnce(c.image, c.pullPolicy, spec.registryAuth, c.platform).catch((e: unknown) => {
          throw new TaskStartError(engineMessage(e), 'not-found');
        });
        return this.createContainer(create, c.platform);
      });
    } catch (err) {
      if (err instanceof TaskStartError) throw err;
      throw new TaskStartError(`could not create the container: ${engineMessage(err)}`, isStatus(err, 404) ? 'not-found' : 'invalid');
    }
    let stream: Duplex | undefined;
    let session: AttachedSession | undefined;
    let tracked: Tracked | undefined;
    try {
      if (attach) {
        stream = (await container.attach({ stream: true, hijack: true, stdin: attach.io.stdin, stdout: true, stderr: true })) as Duplex;
        // Listened to at once: a container that exits at its start ends the stream before start() has even answered.
        // Its exit code is the one the watcher reports.
        session = engineSession(stream, attach.io, attach.onOutput, (size) => container.resize({ h: size.rows, w: size.cols }), async () => {
          if (!tracked) return null;
          const t = tracked;
          if (!t.exited) await new Promise<void>((resolve) => t.waiters.push(resolve));
          return t.exited?.exitCode ?? null;
        });
      }
      for (const n of rest) {
        await this.docker.getNetwork(n.name).connect({ Container: container.id, EndpointConfig: endpoint(c.serviceAlias, n) });
      }
      await container.start();
    } catch (err) {
      stream?.destroy();
      await container.remove({ force: true }).catch(() => {});
      const msg = engineMessage(err);
      const reason = /executable file not found|no such file or directory/i.test(msg) ? 'not-found' : /permission denied/i.test(msg) ? 'permission' : 'other';
      throw new TaskStartError(`could not start the container: ${msg}`, reason);
    }
    tracked = this.watch(id, container.id, slot);
    const info = await container.inspect().catch(() => undefined);
    const ip = first ? info?.NetworkSettings.Networks[first.name]?.IPAddress : undefined;
    let ports: TaskPort[] | undefined;
    if (direct && ip) {
      ports = c.ports.map((p) => ({ target: p.target, protocol: p.protocol, hostIp: ip, hostPort: p.target }));
      // The image's own EXPOSE too: other nodes reach those ports through the service's VIP, as a Compose
      // network lets any container of the project reach them.
      for (const key of Object.keys(info?.Config.ExposedPorts ?? {})) {
        const m = /^(\d+)\/(tcp|udp)$/.exec(key);
        if (!m) continue;
        const target = Number(m[1]);
        const protocol = m[2] as 'tcp' | 'udp';
        if (!ports.some((p) => p.target === target && p.protocol === protocol)) ports.push({ target, protocol, hostIp: ip, hostPort: target });
      }
    }
    else if (hostNetwork) ports = c.ports.map((p) => ({ target: p.target, protocol: p.protocol, hostIp: '127.0.0.1', hostPort: p.target }));
    else if (direct && c.ports.length > 0) throw new TaskStartError(`the container has no address on network "${first?.name}"`);
    return { running: { taskId: id, pid: info?.State.Pid || undefined, ports, ...(joins.length > 0 ? { joins } : {}) }, session };
  }

  /** Waits for the container's exit (it may already have happened) and reports it once. */
  private watch(taskId: string, containerId: string, slot: string): Tracked {
    const t: Tracked = { id: containerId, taskId, slot, stopping: false, waiters: [], wait: new AbortController() };
    this.tracked.set(taskId, t);
    void this.awaitExit(t);
    return t;
  }

  private async awaitExit(t: Tracked): Promise<void> {
    const container = this.docker.getContainer(t.id);
    let info: ExitInfo;
    for (;;) {
      try {
        // "not-running" answers at once for a container that already exited: no exit is missed between start and wait.
        const r = (await container.wait({ condition: 'not-running', abortSignal: t.wait.signal })) as { StatusCode: number; Error?: { Message?: string } | null };
        const state = await container.inspect().then((x) => x.State, () => undefined);
        info = { exitCode: r.StatusCode, signal: null };
        if (state?.OOMKilled) info.error = `killed: out of memory (exit code ${r.StatusCode})`;
        else if (r.Error?.Message) info.error = r.Error.Message;
        break;
      } catch (err) {
        if (this.closed || t.wait.signal.aborted) return;
        // The wait broke (engine restarting, connection lost): look again, then wait again.
        const state = await container.inspect().then((x) => x.State, (e: unknown) => (isStatus(e, 404) ? null : undefined));
        if (state === null) {
          info = { exitCode: null, signal: null, error: 'container was removed outside baton' };
          break;
        }
        if (state && !state.Running) {
          info = { exitCode: state.ExitCode, signal: null };
          break;
        }
        this.log(`docker: waiting for ${t.id.slice(0, 12)}: ${engineMessage(err)}; retrying`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    t.exited = info;
    this.tracked.delete(t.taskId);
    if (t.stopping) await container.remove({ force: true }).catch(() => {});
    else {
      const older = this.kept.get(t.slot);
      if (older && older !== t.id) await this.docker.getContainer(older).remove({ force: true }).catch(() => {});
      this.kept.set(t.slot, t.id);
    }
    for (const w of t.waiters) w();
    for (const h of this.handlers) h.exited(t.taskId, info);
  }

  async pause(taskId: string): Promise<void> {
    const t = this.tracked.get(taskId);
    if (!t || t.exited) throw new Error('task is not running here');
    // Marked first: a probe starting now is skipped rather than refused by the engine and counted.
    t.paused = true;
    await this.docker.getContainer(t.id).pause().catch((err: unknown) => {
      if (!/already paused/i.test(engineMessage(err))) {
        t.paused = false;
        throw new Error(engineMessage(err));
      }
    });
  }

  async unpause(taskId: string): Promise<void> {
    const t = this.tracked.get(taskId);
    if (!t || t.exited) throw new Error('task is not running here');
    await this.docker.getContainer(t.id).unpause().catch((err: unknown) => {
      if (!/not paused/i.test(engineMessage(err))) throw new Error(engineMessage(err));
    });
    t.paused = false;
  }

  async signal(taskId: string, signal: string): Promise<void> {
    const t = this.tracked.get(taskId);
    if (!t || t.exited) throw new Error('task is not running here');
    try {
      await this.docker.getContainer(t.id).kill({ signal });
    } catch (err) {
      throw new Error(engineMessage(err));
    }
  }

  async stop(taskId: string, opts: { signal: string; graceMs: number }): Promise<void> {
    const t = this.tracked.get(taskId);
    if (!t || t.exited) return;
    t.stopping = true;
    const gone = new Promise<void>((resolve) => t.waiters.push(resolve));
    const container = this.docker.getContainer(t.id);
    await container.kill({ signal: opts.signal }).catch(() => {});
    const timer = setTimeout(() => void container.kill({ signal: 'SIGKILL' }).catch(() => {}), Math.max(0, opts.graceMs));
    await gone;
    clearTimeout(timer);
  }

  /**
   * After a daemon restart: containers keep running without baton (the
   * engine holds their output), so those the store still knows are watched
   * again; every other container of this instance is removed.
   */
  async recover(known: RunningTask[]): Promise<RunningTask[]> {
    const wanted = new Set(known.map((k) => k.taskId));
    const mine = await this.containers({ [LABEL.instance]: this.opts.instance });
    const adopted: RunningTask[] = [];
    for (const c of mine) {
      const taskId = c.Labels[LABEL.task];
      // A paused container (baton pause) is running too, and stays paused.
      if (taskId && wanted.has(taskId) && (c.State === 'running' || c.State === 'paused') && !this.tracked.has(taskId)) {
        const t = this.watch(taskId, c.Id, `${c.Labels[LABEL.project]}/${c.Labels[LABEL.service]}/${c.Labels[LABEL.slot]}`);
        if (c.State === 'paused') t.paused = true;
        adopted.push({ taskId });
      } else if (!taskId || !this.tracked.has(taskId)) {
        await this.docker.getContainer(c.Id).remove({ force: true }).catch((err: unknown) => this.log(`docker: removing ${c.Id.slice(0, 12)}: ${engineMessage(err)}`));
      }
    }
    return adopted;
  }

  async exec(taskId: string, probe: { argv: string[] } | { shell: string }, timeoutMs: number): Promise<{ exitCode: number | null; output: string; paused?: boolean }> {
    if (this.tracked.get(taskId)?.paused) return { exitCode: null, output: 'paused', paused: true };
    const argv = 'argv' in probe ? probe.argv : ['/bin/sh', '-c', probe.shell];
    let output = '';
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      const code = await this.execStream(taskId, argv, { signal: ac.signal }, (_s, d) => {
        if (output.length < 4096) output += d.toString('utf8').slice(0, 4096 - output.length);
      });
      return { exitCode: ac.signal.aborted ? null : code, output };
    } catch (err) {
      return { exitCode: ac.signal.aborted ? null : 127, output: engineMessage(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  async execStream(taskId: string, argv: string[], opts: ExecOptions, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void): Promise<number | null> {
    const t = this.tracked.get(taskId);
    if (!t) throw new Error('task is not running here');
    const container = this.docker.getContainer(t.id);
    const exec = await container.exec({ Cmd: argv, AttachStdout: true, AttachStderr: true, Env: opts.env, User: opts.user, WorkingDir: opts.workingDir, ...(opts.privileged ? { Privileged: true } : {}) });
    const stream = await exec.start({ hijack: true, stdin: false });
    await new Promise<void>((resolve) => {
      const demux = new Demuxer(onOutput);
      const abort = (): void => {
        stream.destroy();
        resolve();
      };
      opts.signal?.addEventListener('abort', abort, { once: true });
      stream.on('data', (d: Buffer) => demux.push(d));
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    if (opts.signal?.aborted) return null;
    const info = await exec.inspect();
    return info.ExitCode ?? null;
  }

  async execAttached(taskId: string, argv: string[], opts: ExecOptions & AttachOptions, onOutput: Output): Promise<AttachedSession> {
    const t = this.tracked.get(taskId);
    if (!t) throw new Error('task is not running here');
    const container = this.docker.getContainer(t.id);
    // ConsoleSize starts the TTY at the client's size on engines that know it (API 1.42); older ones get the resize below.
    const consoleSize: [number, number] | undefined = opts.tty && opts.size ? [opts.size.rows, opts.size.cols] : undefined;
    const exec = await container.exec({
      Cmd: argv,
      AttachStdin: opts.stdin,
      AttachStdout: true,
      AttachStderr: true,
      Tty: opts.tty,
      Env: opts.env,
      User: opts.user,
      WorkingDir: opts.workingDir,
      ...(consoleSize ? { ConsoleSize: consoleSize } : {}),
    });
    const stream = await exec.start({ hijack: true, stdin: opts.stdin, Tty: opts.tty, ...(consoleSize ? { ConsoleSize: consoleSize } : {}) } as Docker.ExecStartOptions);
    const exitCode = async (): Promise<number | null> => {
      const deadline = Date.now() + EXEC_EXIT_WAIT_MS;
      for (;;) {
        const info = await exec.inspect();
        if (!info.Running || Date.now() > deadline) return info.Running ? null : info.ExitCode ?? null;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    // Listened to at once (a quick command's output and end come right away), resized after.
    const session = engineSession(stream, opts, onOutput, (size) => exec.resize({ h: size.rows, w: size.cols }), exitCode);
    if (opts.size && opts.tty) session.resize(opts.size);
    return session;
  }

  async getArchive(taskId: string, path: string): Promise<NodeJS.ReadableStream> {
    const t = this.tracked.get(taskId);
    if (!t) throw new Error('task is not running here');
    try {
      return await this.docker.getContainer(t.id).getArchive({ path });
    } catch (err) {
      throw new Error(isStatus(err, 404) ? `no such file or folder in the container: ${path}` : engineMessage(err));
    }
  }

  /**
   * `cp` into a task, as docker cp: into `path` when it is a folder; else
   * under that name (a new file or folder, or over an existing file), in its
   * parent folder, which must exist.
   */
  async putArchive(taskId: string, path: string, tar: Buffer): Promise<void> {
    const t = this.tracked.get(taskId);
    if (!t) throw new Error('task is not running here');
    const container = this.docker.getContainer(t.id);
    const put = async (folder: string, data: Buffer): Promise<void> => {
      try {
        await container.putArchive(data, { path: folder });
      } catch (err) {
        throw new Error(isStatus(err, 404) ? `no such folder in the container: ${folder}` : engineMessage(err));
      }
    };
    const dest = await this.statPath(container, path);
    if (dest && isDir(dest)) return put(path, tar);
    // "dir/" names a folder: one that does not exist is not made, as with docker cp.
    if (/\/\.?$/.test(path)) throw new Error(`no such folder in the container: ${path}`);
    const top = await tarTop(tar);
    if (dest && top.dir) throw new Error(`cannot copy a folder onto the file ${path}`);
    const { parent, name } = splitDest(path);
    const up = await this.statPath(container, parent);
    if (!up || !isDir(up)) throw new Error(`no such folder in the container: ${parent}`);
    await put(parent, top.name === name ? tar : await renameTop(tar, top.name, name));
  }

  /** What the engine says of a path in a container (a symbolic link: of what it points to); undefined when nothing is there. */
  private async statPath(container: Docker.Container, path: string, follow = true): Promise<PathStat | undefined> {
    let res: IncomingMessage;
    try {
      res = (await container.infoArchive({ path })) as IncomingMessage;
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw new Error(engineMessage(err));
    }
    res.resume();
    const stat = parsePathStat(res.headers['x-docker-container-path-stat']);
    if (stat && follow && isSymlink(stat) && stat.linkTarget) {
      return this.statPath(container, posix.resolve(posix.dirname(path), stat.linkTarget), false);
    }
    return stat;
  }

  async stats(taskId: string): Promise<TaskStats | undefined> {
    const t = this.tracked.get(taskId);
    if (!t) return undefined;
    // Not one-shot: the engine takes two samples (about a second apart), so the CPU share is measured, not guessed.
    const s = (await this.docker.getContainer(t.id).stats({ stream: false })) as EngineStats;
    const cpuDelta = s.cpu_stats.cpu_usage.total_usage - (s.precpu_stats.cpu_usage?.total_usage ?? 0);
    const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
    const cpus = s.cpu_stats.online_cpus ?? s.cpu_stats.cpu_usage.percpu_usage?.length ?? 1;
    // As `docker stats`: the page cache is not the task's own use.
    const cache = s.memory_stats.stats?.inactive_file ?? s.memory_stats.stats?.total_inactive_file ?? s.memory_stats.stats?.cache ?? 0;
    let rx = 0;
    let tx = 0;
    for (const n of Object.values(s.networks ?? {})) {
      rx += n.rx_bytes;
      tx += n.tx_bytes;
    }
    return {
      cpuPercent: sysDelta > 0 && cpuDelta >= 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0,
      memoryBytes: Math.max(0, (s.memory_stats.usage ?? 0) - cache),
      memoryLimitBytes: s.memory_stats.limit ?? 0,
      netRxBytes: rx,
      netTxBytes: tx,
      pids: s.pids_stats?.current ?? 0,
    };
  }

  async top(taskId: string): Promise<{ titles: string[]; processes: string[][] } | undefined> {
    const t = this.tracked.get(taskId);
    if (!t) return undefined;
    const r = (await this.docker.getContainer(t.id).top()) as { Titles: string[]; Processes: string[][] };
    return { titles: r.Titles, processes: r.Processes };
  }

  async logs(taskId: string, opts: { tail?: number; follow?: boolean; signal?: AbortSignal }, onLine: (l: LogLine) => void): Promise<void> {
    const found = await this.containers({ [LABEL.task]: taskId, [LABEL.instance]: this.opts.instance });
    if (found.length === 0 || opts.signal?.aborted) return;
    const container = this.docker.getContainer(found[0].Id);
    // With a TTY (tty: true) the engine keeps one raw stream; else stdout and stderr come in frames.
    const tty = (await container.inspect().catch(() => undefined))?.Config.Tty === true;
    const lines = new LogLines(onLine);
    const demux: { push(d: Buffer): void } = tty ? { push: (d) => lines.push('stdout', d) } : new Demuxer((s, d) => lines.push(s, d));
    // Without tail the engine sends the whole log.
    const base = { stdout: true, stderr: true, timestamps: true, ...(opts.tail !== undefined ? { tail: opts.tail } : {}) };
    if (!opts.follow) {
      demux.push(await container.logs({ ...base, follow: false }));
      lines.flush();
      return;
    }
    const stream = (await container.logs({ ...base, follow: true })) as NodeJS.ReadableStream & { destroy(): void };
    await new Promise<void>((resolve) => {
      const abort = (): void => {
        stream.destroy();
        resolve();
      };
      if (opts.signal?.aborted) return abort();
      opts.signal?.addEventListener('abort', abort, { once: true });
      stream.on('data', (d: Buffer) => demux.push(d));
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    lines.flush();
  }

  async remove(taskId: string): Promise<void> {
    for (const c of await this.containers({ [LABEL.task]: taskId, [LABEL.instance]: this.opts.instance })) {
      await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    }
  }

  /** After `down`: the project's leftover containers and its networks go; its volumes only when asked (`down -v`). */
  async networkSubnets(names: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const name of names) {
      const n = (await this.docker.getNetwork(name).inspect().catch(() => undefined)) as { IPAM?: { Config?: { Subnet?: string }[] } } | undefined;
      for (const c of n?.IPAM?.Config ?? []) if (c.Subnet && /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(c.Subnet)) out.push(c.Subnet);
    }
    return out;
  }

  async removeProject(project: string, opts: { volumes: boolean }): Promise<void> {
    const mine = { [LABEL.project]: project, [LABEL.instance]: this.opts.instance };
    for (const slot of this.kept.keys()) if (slot.startsWith(`${project}/`)) this.kept.delete(slot);
    for (const c of await this.containers(mine)) {
      const taskId = c.Labels[LABEL.task];
      if (taskId && this.tracked.has(taskId)) continue; // still running: not ours to remove here
      await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    }
    const networks = await this.docker.listNetworks({ filters: { label: labelFilter(mine) } });
    for (const n of networks) {
      await this.docker.getNetwork(n.Id).remove().catch((err: unknown) => this.log(`docker: removing network ${n.Name}: ${engineMessage(err)}`));
      this.ensuring.delete(`network:${n.Name}`);
    }
    if (!opts.volumes) return;
    const { Volumes } = await this.docker.listVolumes({ filters: { label: labelFilter(mine) } });
    for (const v of Volumes ?? []) {
      await this.docker.getVolume(v.Name).remove().catch((err: unknown) => this.log(`docker: removing volume ${v.Name}: ${engineMessage(err)}`));
      this.ensuring.delete(`volume:${v.Name}`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.tracked.values()) t.wait.abort();
    this.handlers.length = 0;
  }

  private containers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    return this.docker.listContainers({ all: true, filters: { label: labelFilter(labels) } });
  }

  /**
   * Creates a container; only its name and platform travel in the URL (docker-modem would otherwise put the
   * whole spec there as well as in the body).
   */
  private createContainer(create: ContainerCreateOptions, platform?: string): Promise<Docker.Container> {
    const split = { _query: { name: create.name, ...(platform ? { platform } : {}) }, _body: create };
    return this.docker.createContainer(split as unknown as ContainerCreateOptions);
  }

  /** A `volumes_from` entry as the engine takes it: `service:NAME[:ro]` becomes a container of that service here (running or not). */
  private async volumesOf(project: string, entry: string): Promise<string> {
    const [kind, name, mode] = entry.split(':');
    if (kind === 'container') return mode ? `${name}:${mode}` : name;
    const found = await this.containers({ [LABEL.project]: project, [LABEL.service]: name, [LABEL.instance]: this.opts.instance });
    if (found.length === 0) throw new TaskStartError(`volumes_from: service "${name}" has no container on this node`);
    const pick = found.find((x) => x.State === 'running') ?? found[0];
    return mode ? `${pick.Id}:${mode}` : pick.Id;
  }

  /**
   * A namespace mode as the engine takes it: `service:NAME` becomes `container:ID` of a running container of that
   * service here, whose task goes into `joins`.
   */
  private async namespaceOf(project: string, key: string, mode: string | undefined, joins: string[]): Promise<string | undefined> {
    if (!mode?.startsWith('service:')) return mode;
    const service = mode.slice('service:'.length);
    const stopping = new Set([...this.tracked.values()].filter((t) => t.stopping).map((t) => t.id));
    const running = (await this.containers({ [LABEL.project]: project, [LABEL.service]: service, [LABEL.instance]: this.opts.instance })).filter((x) => x.State === 'running' && !stopping.has(x.Id));
    if (running.length === 0) throw new TaskStartError(`${key}: service "${service}" has no running container on this node`);
    // The newest: during a replacement the old container may still be stopping.
    const pick = running.reduce((a, b) => (b.Created > a.Created ? b : a));
    const task = pick.Labels?.[LABEL.task];
    if (task && !joins.includes(task)) joins.push(task);
    return `container:${pick.Id}`;
  }

  /** Creates the network when missing; resolves whether this node reaches its containers' addresses. */
  private ensureNetwork(project: string, n: ContainerNetwork): Promise<boolean> {
    return this.once(`network:${n.name}`, async () => {
      const inspect = (): Promise<NetworkInspectInfo | undefined> =>
        this.docker.getNetwork(n.name).inspect().then((x: NetworkInspectInfo) => x, (err: unknown) => {
          if (isStatus(err, 404)) return undefined;
          throw err;
        });
      const found = await inspect();
      if (found) return reachable(found);
      if (n.external) throw new TaskStartError(`network "${n.name}" is declared external but does not exist (create it with docker network create)`, 'not-found');
      try {
        await this.docker.createNetwork({
          Name: n.name,
          CheckDuplicate: true,
          Driver: n.driver ?? 'bridge',
          Internal: n.internal,
          ...(n.driverOpts ? { Options: n.driverOpts } : {}),
          ...(n.enableIpv6 ? { EnableIPv6: true } : {}),
          ...(n.attachable ? { Attachable: true } : {}),
          ...(n.ipam
            ? {
                IPAM: {
                  Driver: n.ipam.driver ?? 'default',
                  Config: n.ipam.config.map((c) => ({ Subnet: c.subnet, IPRange: c.ipRange, Gateway: c.gateway, AuxiliaryAddresses: c.auxAddresses })),
                  ...(n.ipam.options ? { Options: n.ipam.options } : {}),
                },
              }
            : {}),
          Labels: { ...n.labels, [LABEL.project]: project, [LABEL.instance]: this.opts.instance },
        });
      } catch (err) {
        if (!isStatus(err, 409)) throw new TaskStartError(`could not create network "${n.name}": ${engineMessage(err)}`);
      }
      const made = await inspect();
      return made ? reachable(made) : false;
    });
  }

  private ensureVolume(project: string, v: ContainerVolume): Promise<boolean> {
    return this.once(`volume:${v.name}`, async () => {
      const found = await this.docker.getVolume(v.name).inspect().then(() => true, (err: unknown) => {
        if (isStatus(err, 404)) return false;
        throw err;
      });
      if (found) return true;
      if (v.external) throw new TaskStartError(`volume "${v.name}" is declared external but does not exist (create it with docker volume create)`, 'not-found');
      try {
        await this.docker.createVolume({ Name: v.name, Driver: v.driver ?? 'local', Labels: { ...v.labels, [LABEL.project]: project, [LABEL.instance]: this.opts.instance } });
      } catch (err) {
        throw new TaskStartError(`could not create volume "${v.name}": ${engineMessage(err)}`);
      }
      return true;
    });
  }

  /** Runs `make` once for concurrent callers; a failure is not remembered, so the next start tries again. */
  private once(key: string, make: () => Promise<boolean>): Promise<boolean> {
    let p = this.ensuring.get(key);
    if (!p) {
      p = make();
      this.ensuring.set(key, p);
      p.catch(() => this.ensuring.delete(key));
      // Done is not forever: the object may be removed behind our back (down, docker rm); look again next time.
      void p.then(() => setTimeout(() => this.ensuring.delete(key), 1_000).unref(), () => {});
    }
    return p;
  }
}

/**
 * Whether this host routes to the network's containers: its bridge device is here (a bridge with no
 * container yet is down, and its address not listed by networkInterfaces()), or this host has an
 * address in one of its IPv4 subnets.
 */
function reachable(n: NetworkInspectInfo): boolean {
  if ((n.Driver ?? 'bridge') === 'bridge' && n.Id) {
    const device = n.Options?.['com.docker.network.bridge.name'] ?? `br-${n.Id.slice(0, 12)}`;
    if (existsSync(`/sys/class/net/${device}`)) return true;
  }
  const subnets = (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => typeof s === 'string' && s.includes('.'));
  const mine = Object.values(networkInterfaces()).flatMap((list) => list ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address);
  return subnets.some((s) => mine.some((a) => inSubnet(a, s)));
}

function ipv4(a: string): number {
  return a.split('.').reduce((n, x) => n * 256 + Number(x), 0);
}

function inSubnet(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const n = Number(bits);
  if (!Number.isInteger(n) || n < 0 || n > 32) return false;
  const size = 2 ** (32 - n);
  return Math.floor(ipv4(address) / size) === Math.floor(ipv4(base) / size);
}

/**
 * A hijacked engine stream (exec or container attach) as a session: raw
 * output with a TTY, the engine's multiplexed frames without. stdin's end is
 * a half-close of the connection, which the engine passes on as EOF.
 */
function engineSession(stream: Duplex, io: AttachOptions, onOutput: Output, resize: (size: TermSize) => Promise<unknown>, exitCode: () => Promise<number | null>): AttachedSession {
  const demux = io.tty ? undefined : new Demuxer(onOutput);
  let cut = false;
  stream.on('data', (d: Buffer) => (demux ? demux.push(d) : onOutput('stdout', d)));
  const ended = new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
  return {
    write: (data) => {
      if (io.stdin && stream.writable) stream.write(data);
    },
    end: () => {
      if (io.stdin && stream.writable) stream.end();
    },
    resize: latestOnly(resize),
    done: ended.then(() => (cut ? null : exitCode())),
    close: () => {
      cut = true;
      stream.destroy();
    },
  };
}

/**
 * Resizes one at a time, the newest size winning: two requests in flight can
 * reach the engine in either order, and a terminal resized twice quickly
 * (stty cols, then rows) would be left at the older size.
 */
export function latestOnly(resize: (size: TermSize) => Promise<unknown>): (size: TermSize) => void {
  let busy = false;
  let next: TermSize | undefined;
  const run = (size: TermSize): void => {
    busy = true;
    void resize(size)
      .catch(() => {})
      .finally(() => {
        busy = false;
        const n = next;
        next = undefined;
        if (n) run(n);
      });
  };
  return (size) => {
    if (busy) next = size;
    else run(size);
  };
}

/** `blkio_config` as the engine's HostConfig fields. */
function blkioConfig(b: BlkioOptions): Record<string, unknown> {
  const rates = (list: { path: string; rate: number }[]): { Path: string; Rate: number }[] => list.map((x) => ({ Path: x.path, Rate: x.rate }));
  return {
    ...(b.weight !== undefined ? { BlkioWeight: b.weight } : {}),
    BlkioWeightDevice: b.weightDevice.map((x) => ({ Path: x.path, Weight: x.weight })),
    BlkioDeviceReadBps: rates(b.deviceReadBps),
    BlkioDeviceWriteBps: rates(b.deviceWriteBps),
    BlkioDeviceReadIOps: rates(b.deviceReadIOps),
    BlkioDeviceWriteIOps: rates(b.deviceWriteIOps),
  };
}

/** The names a container answers to on a network (none for a one-off, `baton run`), and its fixed address there. */
function endpoint(service: string, n: ContainerNetwork): { Aliases: string[]; IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } } {
  const fixed = { ...(n.ipv4Address ? { IPv4Address: n.ipv4Address } : {}), ...(n.ipv6Address ? { IPv6Address: n.ipv6Address } : {}) };
  return { Aliases: [service, ...n.aliases].filter((a) => a !== ''), ...(Object.keys(fixed).length > 0 ? { IPAMConfig: fixed } : {}) };
}

function labelFilter(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms}ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export function createDockerDriver(opts: DockerDriverOptions): DockerDriver {
  return new DockerDriver(opts);
}

/** One line of an engine's pull or push progress: the layer, what it does, how far. */
function progressLine(e: { id?: string; status?: string; progress?: string }): string {
  return `${e.id ? `${e.id}: ` : ''}${e.status}${e.progress ? ` ${e.progress}` : ''}`;
}

import { existsSync, mkdirSync, readFileSync, chmodSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname, networkInterfaces } from 'node:os';
import { Agent, parseSubnet } from '../agent/index.js';
import { ApiServer, ClusterServer, NodeClient, type NodeAddress } from '../api/index.js';
import type { ApiHooks, ApiProblem } from '../api/index.js';
import { ImageError } from '../api/index.js';
import { NodeMonitor, Reconciler, projectRegistryAuth, serviceFiles } from '../controllers/index.js';
import { ClusterIdentity } from './cluster.js';
import type { ContainerSpec, Driver } from '../drivers/driver.js';
import { LABEL } from '../drivers/driver.js';
import { EngineProbe, EngineWatch, createHollowDriver, createProcessDriver, type BuildSpec, type DockerDriver } from '../drivers/index.js';
import { allocatePort, checkPortFree } from '../mesh/index.js';
import type { Service, Task, TaskStats } from '../model/types.js';
import type { ComposeProject } from '../spec/types.js';
import { openSqliteStore } from '../store/index.js';
import { containerSpec, imageOf, taskArgv, taskFilesRoot } from '../agent/index.js';
import { ComposeValueError } from '../model/compose-values.js';
import { buildOptions, type BuildFlags } from '../model/build-options.js';
import { LocalControlPlane } from './local-control-plane.js';
import { OneOffRuns } from './one-off-runs.js';
import { sessionDone } from '../model/stdio.js';
import type { RunOnceRequest } from '../model/one-off.js';
import { acquirePidfile } from './pidfile.js';
import { nodeNetwork } from './node-network.js';
import { paths } from './home.js';
import { VERSION } from '../version.js';
import { SecretBox, readKeyFile } from '../secrets/index.js';
import { waitForUnlock } from './locked.js';
import { serverTls } from './tls.js';
import { resolveCommand } from '../drivers/index.js';
import { resolve } from 'node:path';
import { parseHostPort } from '../model/address.js';
import { registryOf, type RegistryAuth } from '../model/image-ref.js';

export interface DaemonOptions {
  home: string;
  /** host:port for a TCP listener (needs token). */
  listen?: string;
  token?: string;
  /** PEM files for the TCP listener; without them the daemon makes its own (in <home>/tls). */
  tlsCert?: string;
  tlsKey?: string;
  /** PEM CA whose client certificates are let in on TCP (role in the subject's OU). */
  tlsClientCa?: string;
  /** Port of the HTTP ingress (default $BATON_HTTP_PORT, else 80 as root and 8080 otherwise). */
  httpPort?: number;
  /** Port of the HTTPS ingress (default $BATON_HTTPS_PORT, else 443 as root and 8443 otherwise). */
  httpsPort?: number;
  /** ACME server for `x-baton.tls: acme` (Let's Encrypt's production directory by default). */
  acmeDirectory?: string;
  acmeEmail?: string;
  /** PEM file to trust for the ACME server's own HTTPS (a test server). */
  acmeCa?: string;
  /**
   * Swarm's `init --autolock`: lock the cluster key under a new unlock key
   * (given to `onUnlockKey`, shown once) unless it is locked already.
   */
  autolock?: { onUnlockKey: (key: string) => void };
  /** `baton manager`: also serve the node port agents join at, and judge nodes by their heartbeats. */
  cluster?: {
    /** host:port of the node port (Swarm's is 2377). */
    listen: string;
    /** The address other nodes reach this one at. */
    advertiseAddr?: string;
    /** A node not heard from for this long is down and its tasks move. */
    downAfterMs?: number;
  };
  /** Process tasks reach services by name (a loopback address per service); default $BATON_SERVICE_NAMES=1. */
  serviceNames?: boolean;
  /** Service VIPs and DNS for containers from this block (CIDR), e.g. 10.213.0.0/16; off when absent. */
  serviceSubnet?: string;
  log?: (msg: string) => void;
}

/** How often a daemon without an engine looks for one (besides before each deploy). */
const ENGINE_PROBE_MS = 5_000;

export interface RunningDaemon {
  close(opts?: { stopTasks?: boolean }): Promise<void>;
}

/**
 * `baton daemon`: store, controllers, scheduler, agent and API in one process,
 * the single-machine default. Everything it needs to resume lives in the
 * SQLite store under the home folder.
 */
export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const log = opts.log ?? ((m: string) => console.error(`${new Date().toISOString()} ${m}`));
  // Checked before anything starts: a bad flag leaves nothing half up.
  const serviceSubnet = opts.serviceSubnet ? parseSubnet(opts.serviceSubnet) : undefined;
  const p = paths(opts.home);
  mkdirSync(opts.home, { recursive: true, mode: 0o700 });
  chmodSync(opts.home, 0o700);
  const release = acquirePidfile(p.pidfile);
  // Two starters racing for a stale pidfile: the loser sees another pid here and leaves.
  await new Promise((r) => setTimeout(r, 30));
  if (readFileSync(p.pidfile, 'utf8').trim() !== String(process.pid)) throw new Error('another baton daemon took the lock first');

  const store = openSqliteStore(p.db);
  const nodeId = createHash('sha256').update(`${hostname()}:${opts.home}`).digest('hex').slice(0, 12);
  const instance = nodeId;
  const drivers = new Map<string, Driver>([
    ['process', createProcessDriver({ home: opts.home, instance })],
    ['hollow', createHollowDriver()],
  ]);
  // The docker driver once an engine answers: now, or later (see engineWatch below); until then image services run as processes.
  const engine = new EngineProbe({ instance, log });
  let docker: DockerDriver | undefined = await engine.look();
  if (docker) drivers.set('docker', docker);
  const { mesh, certs, ingress } = nodeNetwork({ home: opts.home, httpPort: opts.httpPort, httpsPort: opts.httpsPort, acmeDirectory: opts.acmeDirectory, acmeEmail: opts.acmeEmail, acmeCa: opts.acmeCa, log });
  const version = { version: VERSION, api: 'v1', node: process.version, home: opts.home, pid: process.pid };
  // Autolock: with the key locked, nothing starts (no task, no controller) until `baton unlock`.
  const keyState = existsSync(p.secretKey) ? readKeyFile(p.secretKey) : undefined;
  const box = keyState?.kind === 'locked' ? await waitForUnlock(p.socket, keyState.locked, version, log) : SecretBox.openOrCreate(p.secretKey);
  if (opts.autolock && keyState?.kind !== 'locked') {
    opts.autolock.onUnlockKey(box.lockTo(p.secretKey));
    await store.appendEvents([{ type: 'autolock', message: 'autolock turned on at start' }]);
  }
  const cp = new LocalControlPlane(store, box);
  let clusterSide: { server: ClusterServer; monitor: NodeMonitor; identity: ClusterIdentity; address: string; listen: [string, number]; tls: { cert: string; key: string }; nodes: NodeClient; oneOffs: OneOffRuns } | undefined;
  if (opts.cluster) {
    const listen = splitHostPort(opts.cluster.listen);
    const advertise = opts.cluster.advertiseAddr ?? (listen[0] !== '0.0.0.0' && listen[0] !== '::' ? listen[0] : firstAddress());
    const identity = await ClusterIdentity.open(opts.home, store, box);
    const monitor = new NodeMonitor(store, { downAfterMs: opts.cluster.downAfterMs ?? 3000, self: nodeId, log });
    let oneOffs: OneOffRuns | undefined;
    const server = new ClusterServer(store, monitor, {
      caPem: identity.ca.certPem,
      clusterId: identity.clusterId,
      tokenRole: (t) => identity.tokenRole(t),
      issue: (csr, id, role) => identity.ca.issue(csr, id, role),
      files: async (serviceId) => {
        const svc = await store.get('service', serviceId);
        if (!svc) throw new Error(`service ${serviceId} is gone`);
        return serviceFiles(store, svc.value, (sealed, key) => box.open(sealed, key));
      },
      registryAuth: (project, image) => projectRegistryAuth(store, project, image, (sealed, label) => box.open(sealed, label)),
      runsOneOff: (node, project, service) => oneOffs?.allows(node, project, service) === true,
      // Only images the project's services use leave this engine.
      image: async (name) => {
        if (!docker) return undefined;
        const used = (await store.list('service')).some((s) => imageOf(s.value) === name);
        return used ? docker.saveImage(name) : undefined;
      },
    }, log);
    const tls = await identity.managerCert(nodeId, listen[0]);
    const nodes = new NodeClient({ ca: identity.ca.certPem, ...tls });
    oneOffs = new OneOffRuns(store, nodes, nodeId, (d) => drivers.get(d)?.runsContainers === true);
    clusterSide = { server, monitor, identity, address: `${advertise}:${listen[1]}`, listen, tls, nodes, oneOffs };
  }
  const agent = new Agent({
    nodeId,
    cp,
    drivers,
    mesh,
    log,
    filesRoot: taskFilesRoot(opts.home, instance),
    ingress,
    certs,
    ...(opts.serviceNames !== undefined ? { serviceNames: opts.serviceNames } : {}),
    ...(serviceSubnet ? { serviceSubnet } : {}),
    ...(clusterSide ? { nodePorts: true, identity: { role: 'manager' as const, address: clusterSide.address.slice(0, clusterSide.address.lastIndexOf(':')) } } : {}),
  });
  const reconciler = new Reconciler(store, log);

  const isRemote = (task: Task): boolean => clusterSide !== undefined && task.node !== undefined && task.node !== nodeId;
  /** Where a task on another node is reached (its node's own port); undefined for a task of this node. */
  const remote = async (task: Task): Promise<NodeAddress | undefined> => {
    if (!isRemote(task)) return undefined;
    const n = await store.get('node', task.node!);
    if (!n) throw new Error(`task ${task.id} ran on node ${task.node}, which left the cluster`);
    if (!n.value.apiPort) throw new Error(`node ${n.value.hostname} (${n.value.id}) does not serve its tasks' logs (an older agent?)`);
    if (n.value.state !== 'ready') throw new Error(`node ${n.value.hostname} (${n.value.id}) is down`);
    return { address: n.value.address, port: n.value.apiPort };
  };
  const buildPlan: NonNullable<ApiHooks['buildPlan']> = async (project, services, force) => {
    const needed: string[] = [];
    for (const name of services) {
      const spec = buildSpec(project, name);
      if (spec && (force || !(await docker!.hasImage(spec.tag)))) needed.push(name);
    }
    return needed;
  };
  const buildImages: NonNullable<ApiHooks['build']> = async (project, services, how, onLine, context, auth) => {
    const built: string[] = [];
    for (const name of await buildPlan(project, services, how.force)) {
      const spec = buildSpec(project, name, how)!;
      try {
        await docker!.build(spec, (line) => onLine(name, line), context, auth);
      } catch (err) {
        throw new ImageError(name, (err as Error).message);
      }
      built.push(name);
    }
    return { built };
  };
  /** Whether a pull fetches this service's image: always for `baton pull`; for `up` (missingOnly) when it is not here, or with pull_policy: always, never with never. */
  const mustPull = async (project: ComposeProject, name: string, missingOnly: boolean): Promise<boolean> => {
    const policy = project.services[name].pull_policy;
    if (!missingOnly) return true;
    if (policy === 'never') return false;
    return policy === 'always' || !(await docker!.hasImage(project.services[name].image!));
  };
  const pullPlan: NonNullable<ApiHooks['pullPlan']> = async (project, services, missingOnly) => {
    const needed: string[] = [];
    for (const name of services) if (await mustPull(project, name, missingOnly)) needed.push(name);
    return needed;
  };
  const pullImages: NonNullable<ApiHooks['pull']> = async (project, services, missingOnly, onLine, auth) => {
    // All at once, as Compose pulls: each service's lines carry its name. The first failure (in file order) is the one reported.
    const results = await Promise.allSettled(
      services.map(async (name): Promise<boolean> => {
        const image = project.services[name].image!;
        const policy = project.services[name].pull_policy;
        if (!(await mustPull(project, name, missingOnly))) return false;
        try {
          const platform = project.services[name].platform;
          await docker!.pull(image, (line) => onLine(name, line), auth?.[registryOf(image)], typeof platform === 'string' ? platform : undefined);
        } catch (err) {
          const what = missingOnly && policy !== 'always' ? `image "${image}" is not present on this node and could not be pulled` : `image "${image}" could not be pulled${policy === 'always' ? ' (pull_policy: always)' : ''}`;
          throw new ImageError(name, `${what}: ${(err as Error).message}`);
        }
        return true;
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return { pulled: services.filter((_, i) => (results[i] as PromiseFulfilledResult<boolean>).value) };
  };
  const pushImages: NonNullable<ApiHooks['push']> = async (project, services, onLine, auth) => {
    // One at a time, in file order: the first failure stops the rest, as `docker compose push` does without --ignore-push-failures.
    const pushed: string[] = [];
    for (const name of services) {
      const image = project.services[name].image!;
      try {
        await docker!.push(image, (line) => onLine(name, line), auth?.[registryOf(image)]);
      } catch (err) {
        throw new ImageError(name, `image "${image}" could not be pushed: ${(err as Error).message}`);
      }
      pushed.push(name);
    }
    return { pushed };
  };
  // No engine at the start: look again every few seconds and before each deploy, and take it in when it answers.
  const engineWatch = docker
    ? undefined
    : new EngineWatch(engine, {
        intervalMs: ENGINE_PROBE_MS,
        log,
        onUp: async (d) => {
          // Nothing of this instance runs there yet (its tasks were orphaned at the start): what it left is removed.
          await d.recover([]);
          docker = d;
          await agent.addDriver('docker', d);
          log('docker: the engine answers now; image services run as containers');
        },
      });
  /** A manager's services may run on other nodes: the drivers its ready nodes offer, as last looked before a deploy. */
  let clusterDrivers = new Set<string>();
  const offered = (): string[] => [...new Set([...drivers.keys(), ...clusterDrivers])];
  const hooks: ApiHooks = {
    version,
    selfNode: nodeId,
    ...(clusterSide ? { cluster: { joinToken: (role, rotate) => clusterSide!.identity.joinToken(role, rotate), address: clusterSide.address } } : {}),
    drivers: offered,
    // Containers when an engine answers here, or (a manager) on some ready node of the cluster.
    defaultDriver: (svc) => ((docker || clusterDrivers.has('docker')) && (svc.image || svc.build) ? 'docker' : 'process'),
    allocatePort: () => allocatePort('127.0.0.1'),
    blobVersion: (value) => box.version(value),
    seal: (value, key) => box.seal(value, key),
    autolock: (enable) => {
      if (!enable) {
        box.unlockTo(p.secretKey);
        return {};
      }
      return { unlockKey: box.lockTo(p.secretKey) };
    },
    preflight: (services, ownPorts) => preflight(services, ownPorts, new Set(offered()), docker),
    pause: async (task, action) => {
      const at = await remote(task);
      if (at) return clusterSide!.nodes.pause(at, task, action);
      const d = drivers.get(task.driver);
      const act = action === 'pause' ? d?.pause : d?.unpause;
      if (!d || !act) throw new Error(`the ${task.driver} driver cannot ${action} a task`);
      await act.call(d, task.id);
    },
    signal: async (task, sig) => {
      const at = await remote(task);
      if (at) return clusterSide!.nodes.signal(at, task, sig);
      const d = drivers.get(task.driver);
      if (!d?.signal) throw new Error(`the ${task.driver} driver cannot signal a task`);
      await d.signal(task.id, sig);
    },
    get removeImage() {
      return docker ? (image: string) => docker!.removeImage(image) : undefined;
    },
    removeProject: async (project, o) => {
      for (const d of drivers.values()) await d.removeProject?.(project, o);
      if (!clusterSide) return;
      // Every other node made the project's networks (and volumes) its tasks needed on its own engine.
      const others = (await store.list('node')).map((n) => n.value).filter((n) => n.id !== nodeId && n.apiPort);
      await Promise.all(others.map(async (n) => {
        if (n.state !== 'ready') return log(`down ${project}: node ${n.hostname} (${n.id}) is down; its networks${o.volumes ? ' and volumes' : ''} of the project stay there`);
        await clusterSide!.nodes.removeProject({ address: n.address, port: n.apiPort! }, project, o.volumes).catch((err: Error) => log(`down ${project}: node ${n.hostname} (${n.id}): ${err.message}`));
      }));
    },
    // Getters: an engine that starts after the daemon brings these with it.
    get build() {
      return docker ? buildImages : undefined;
    },
    get buildPlan() {
      return docker ? buildPlan : undefined;
    },
    get pull() {
      return docker ? pullImages : undefined;
    },
    get pullPlan() {
      return docker ? pullPlan : undefined;
    },
    get imageInfo() {
      return docker ? (image: string) => docker!.imageInfo(image) : undefined;
    },
    get push() {
      return docker ? pushImages : undefined;
    },
    get login() {
      return docker ? (auth: RegistryAuth) => docker!.login(auth) : undefined;
    },
    probeDrivers: async () => {
      await engineWatch?.probe();
      if (clusterSide) clusterDrivers = new Set((await store.list('node')).flatMap((n) => (n.value.state === 'ready' ? n.value.drivers : [])));
    },
    getArchive: (task, path) => {
      const d = drivers.get(task.driver);
      if (!d?.getArchive) throw new Error(`cp needs a container; it runs on the ${task.driver} driver`);
      return d.getArchive(task.id, path);
    },
    putArchive: async (task, path, tar) => {
      const d = drivers.get(task.driver);
      if (!d?.putArchive) throw new Error(`cp needs a container; it runs on the ${task.driver} driver`);
      await d.putArchive(task.id, path, tar);
    },
    canRun: (svc) => {
      const d = drivers.get(svc.driver);
      if (d?.runsContainers) return undefined;
      if (d) return `run needs a container; it runs on the ${svc.driver} driver`;
      // A manager sends the run to a node that has the driver (OneOffRuns.place says when none has).
      return clusterSide ? undefined : `run starts its container on this node, which has no ${svc.driver} driver (no engine answers here)`;
    },
    run: async (svc, req, onOutput, signal) => {
      const run = oneOff(req);
      const to = await clusterSide?.oneOffs.place(svc);
      if (!to) return agent.runOnce(svc, run, onOutput, signal);
      return sessionDone(await clusterSide!.oneOffs.relay(to, svc, run, { tty: false, stdin: false }, onOutput), signal);
    },
    runAttached: async (svc, req, onOutput) => {
      const io = { tty: req.tty === true, stdin: req.stdin === true, size: req.size };
      const to = await clusterSide?.oneOffs.place(svc);
      return to ? clusterSide!.oneOffs.relay(to, svc, oneOff(req), io, onOutput) : agent.runAttached(svc, oneOff(req), io, onOutput);
    },
    stats: async (task) => {
      const at = await remote(task);
      return at ? clusterSide!.nodes.stats<TaskStats>(at, task) : drivers.get(task.driver)?.stats?.(task.id);
    },
    top: async (task) => {
      const at = await remote(task);
      return at ? clusterSide!.nodes.top(at, task) : drivers.get(task.driver)?.top?.(task.id);
    },
    // A task on another node: its own agent says whether its driver can (the answer comes from there).
    canExec: (task) => (isRemote(task) || drivers.get(task.driver)?.execStream ? undefined : `exec needs a container; it runs on the ${task.driver} driver`),
    exec: async (task, req, onOutput, signal) => {
      const at = await remote(task);
      if (at) return clusterSide!.nodes.exec(at, task, { argv: req.argv, env: req.env, user: req.user, workdir: req.workdir }, onOutput, signal);
      return drivers.get(task.driver)!.execStream!(task.id, req.argv, { env: req.env, user: req.user, workingDir: req.workdir, signal }, onOutput);
    },
    execAttached: async (task, req, onOutput) => {
      const io = { tty: req.tty === true, stdin: req.stdin === true, size: req.size };
      const at = await remote(task);
      if (at) return clusterSide!.nodes.execAttached(at, task, { argv: req.argv, env: req.env, user: req.user, workdir: req.workdir, ...io }, onOutput);
      const d = drivers.get(task.driver);
      if (!d?.execAttached) throw new Error(`exec needs a container; it runs on the ${task.driver} driver`);
      return d.execAttached(task.id, req.argv, { env: req.env, user: req.user, workingDir: req.workdir, ...io }, onOutput);
    },
    logs: async (task, o, onLine) => {
      const at = await remote(task);
      if (at) return clusterSide!.nodes.logs(at, task, o, onLine);
      const d = drivers.get(task.driver);
      if (!d) return;
      await d.logs(task.id, o, (l) => onLine({ time: l.time, stream: l.stream, line: l.line }));
    },
  };
  const api = new ApiServer(store, hooks);

  await agent.start();
  engineWatch?.start();
  await reconciler.start();
  if (clusterSide) {
    await clusterSide.server.listen(clusterSide.listen[0], clusterSide.listen[1], clusterSide.tls);
    clusterSide.monitor.start();
    log(`cluster ${clusterSide.identity.clusterId}: nodes join at ${clusterSide.address} (baton join-token worker prints the command)`);
  }
  await api.listenUnix(p.socket);
  if (opts.listen) {
    const [host, port] = splitHostPort(opts.listen);
    const tls = await serverTls(opts.home, host, { cert: opts.tlsCert, key: opts.tlsKey });
    await api.listenTcp(host, port, opts.token ?? '', { ...tls, ...(opts.tlsClientCa ? { clientCa: readFileSync(opts.tlsClientCa, 'utf8') } : {}) });
    log(`TCP API on https://${opts.listen}; clients verify it with BATON_TLS_CA=${tls.certPath}`);
  }
  log(`baton daemon ${VERSION} ready: pid ${process.pid}, home ${opts.home}, socket ${p.socket}${opts.listen ? `, tcp ${opts.listen}` : ''}`);

  let closing: Promise<void> | undefined;
  return {
    close(o = {}) {
      closing ??= (async () => {
        engineWatch?.stop();
        await api.close();
        clusterSide?.monitor.stop();
        await clusterSide?.server.close();
        clusterSide?.nodes.close();
        await reconciler.stop();
        await agent.close(o.stopTasks ?? true);
        await mesh.close();
        await ingress.close();
        certs.close();
        for (const d of drivers.values()) await d.close();
        await store.close();
        release();
      })();
      return closing;
    },
  };
}

/** The first non-internal IPv4 address: what other nodes most likely reach this one at. */
function firstAddress(): string {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

function splitHostPort(s: string): [string, number] {
  const hp = parseHostPort(s);
  if (!hp) throw new Error(`--listen: expected HOST:PORT, got "${s}"`);
  return [hp.host || '0.0.0.0', hp.port];
}

/** What would stop a service from running on this node, found before anything is stored. */
async function preflight(services: Service[], ownPorts: Set<number>, drivers: Set<string>, docker: DockerDriver | undefined): Promise<ApiProblem[]> {
  const problems: ApiProblem[] = [];
  for (const svc of services) {
    if (svc.driver === 'docker' && docker) problems.push(...(await containerPreflight(svc, docker)));
    if (svc.driver === 'process') {
      const argv = taskArgv(svc);
      if (argv.length === 0) {
        problems.push({ service: svc.name, path: `services.${svc.name}.command`, message: 'the process driver needs a command (or entrypoint) to run' });
      } else {
        const cwd = resolve(svc.workingDir, svc.spec.working_dir ?? '.');
        const found = await resolveCommand(argv[0], process.env.PATH ?? '', cwd);
        if (!found) problems.push({ service: svc.name, path: `services.${svc.name}.command`, message: `"${argv[0]}": command not found (in PATH or ${cwd})` });
      }
    }
    if (!drivers.has(svc.driver)) problems.push({ service: svc.name, message: `driver "${svc.driver}" is not available` });
    for (const port of svc.ports) {
      if (port.published === undefined || ownPorts.has(port.published)) continue;
      if (!(await checkPortFree(port.hostIp ?? '0.0.0.0', port.published, port.protocol))) {
        problems.push({ service: svc.name, path: `services.${svc.name}.ports`, message: `port ${port.published}/${port.protocol} is already in use on this machine` });
      }
    }
  }
  return problems;
}

/** An image service: its Compose keys map onto a container, and its image is here (or pullable) before anything is applied. */
async function containerPreflight(svc: Service, docker: DockerDriver): Promise<ApiProblem[]> {
  const at = (key: string): string => `services.${svc.name}.${key}`;
  let spec: ContainerSpec;
  try {
    spec = containerSpec({ id: 'preflight', project: svc.project, service: svc.name, slot: 1 }, svc, undefined, []);
  } catch (err) {
    if (err instanceof ComposeValueError) return [{ service: svc.name, path: at(err.key), message: err.detail }];
    throw err;
  }
  if (svc.spec.build && !svc.spec.image) {
    return (await docker.hasImage(spec.image)) ? [] : [{ service: svc.name, path: at('build'), message: `image "${spec.image}" is not built yet (baton up builds it; or run baton build ${svc.name})` }];
  }
  try {
    await docker.ensureImage(spec.image, spec.pullPolicy, undefined, spec.platform);
  } catch (err) {
    return [{ service: svc.name, path: at('image'), message: (err as Error).message }];
  }
  // The engine would refuse the create; said now, before anything is applied.
  const has = spec.platform ? (await docker.imageInfo(spec.image))?.platform : undefined;
  if (spec.platform && has && !samePlatform(spec.platform, has)) {
    return [{ service: svc.name, path: at('platform'), message: `image "${spec.image}" here is for ${has}, not ${spec.platform}` }];
  }
  return [];
}

/** os/arch[/variant] compared as the engine does: x86_64 is amd64, aarch64 is arm64, and no variant matches any. */
function samePlatform(want: string, has: string): boolean {
  const norm = (p: string): string[] => p.toLowerCase().split('/').map((x) => ({ x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64' })[x] ?? x);
  const [a, b] = [norm(want), norm(has)];
  return a[0] === b[0] && a[1] === b[1] && (!a[2] || !b[2] || a[2] === b[2]);
}

/**
 * What to build for a Compose service with `build:`: its context, Dockerfile, args, target, labels and the
 * builder's options (the API has refused options the builder cannot take), tagged with the image it runs.
 */
function buildSpec(project: ComposeProject, name: string, flags: BuildFlags = {}): BuildSpec | undefined {
  const s = project.services[name];
  if (!s?.build) return undefined;
  const b = s.build;
  const args: Record<string, string> = {};
  // An arg without a value is left to the Dockerfile's default, as when the variable is unset.
  for (const [k, v] of Object.entries(b.args ?? {})) if (v !== null) args[k] = String(v);
  return {
    context: b.context,
    dockerfile: b.dockerfile ?? 'Dockerfile',
    ...(typeof b.dockerfile_inline === 'string' ? { dockerfileInline: b.dockerfile_inline } : {}),
    args,
    ...(b.target ? { target: b.target } : {}),
    labels: { ...(b.labels ?? {}), [LABEL.project]: project.name, [LABEL.service]: name },
    tag: imageOf({ project: project.name, name, spec: s })!,
    options: buildOptions(name, b, flags),
  };
}

/** What a run request asks of the one-off container. */
function oneOff(req: { argv?: string[]; entrypoint?: string[]; env?: string[]; user?: string; workdir?: string; rm?: boolean }): RunOnceRequest {
  return { argv: req.argv, entrypoint: req.entrypoint, env: req.env, user: req.user, workdir: req.workdir, rm: req.rm === true };
}

import type { ContainerMount, ContainerNetwork, ContainerSpec, ContainerVolume } from '../drivers/driver.js';
import { LABEL, PROPAGATIONS, type Propagation } from '../drivers/driver.js';
import type { Project, Service, Task, TaskPort } from '../model/types.js';
import { engineOptions } from './engine-options.js';
import { ComposeValueError, extraHosts, isObj, parseBytes, strings, stringMap, ulimits, type Obj } from '../model/compose-values.js';

/** `HOST[:CONTAINER[:PERMISSIONS]]`, as `docker run --device`. */
function devices(svc: string, v: unknown): ContainerSpec['devices'] {
  return strings(svc, 'devices', v).map((e) => {
    const [host, container = host, permissions = 'rwm'] = e.split(':');
    if (!host.startsWith('/') || !container.startsWith('/') || !/^[rwm]+$/.test(permissions)) {
      throw new ComposeValueError(svc, 'devices', `expected HOST_PATH[:CONTAINER_PATH[:rwm]], got "${e}"`);
    }
    return { host, container, permissions };
  });
}

function pullPolicy(svc: string, v: unknown): ContainerSpec['pullPolicy'] {
  if (v === undefined || v === null || v === 'missing' || v === 'if_not_present' || v === 'build') return 'missing';
  if (v === 'always' || v === 'never') return v;
  throw new ComposeValueError(svc, 'pull_policy', `expected missing, always, never or build, got "${String(v)}"`);
}

/** The image a service runs: its `image:`, or for a `build:` without one, `<project>-<service>` as Compose names it. */
export function imageOf(svc: Pick<Service, 'project' | 'name' | 'spec'>): string | undefined {
  return svc.spec.image ?? (svc.spec.build ? `${svc.project}-${svc.name}` : undefined);
}

/** How a top-level network is created: its driver options, IPv6, attachable, and IPAM (subnets for fixed addresses). */
function networkCreation(svc: string, key: string, cfg: Obj): Pick<ContainerNetwork, 'driverOpts' | 'enableIpv6' | 'attachable' | 'ipam'> {
  const at = `networks.${key}`;
  const out: Pick<ContainerNetwork, 'driverOpts' | 'enableIpv6' | 'attachable' | 'ipam'> = {};
  if (cfg.driver_opts !== undefined) out.driverOpts = stringMap(svc, `${at}.driver_opts`, cfg.driver_opts);
  if (cfg.enable_ipv6 === true) out.enableIpv6 = true;
  if (cfg.attachable === true) out.attachable = true;
  if (isObj(cfg.ipam)) {
    const ipam = cfg.ipam;
    const config = (Array.isArray(ipam.config) ? ipam.config : []).map((c, i) => {
      if (!isObj(c)) throw new ComposeValueError(svc, `${at}.ipam.config[${i}]`, 'expected a mapping with subnet, ip_range, gateway, aux_addresses');
      const str = (k: string): string | undefined => (typeof c[k] === 'string' ? (c[k] as string) : undefined);
      const subnet = str('subnet');
      const ipRange = str('ip_range');
      const gateway = str('gateway');
      return {
        ...(subnet ? { subnet } : {}),
        ...(ipRange ? { ipRange } : {}),
        ...(gateway ? { gateway } : {}),
        ...(c.aux_addresses !== undefined ? { auxAddresses: stringMap(svc, `${at}.ipam.config[${i}].aux_addresses`, c.aux_addresses) } : {}),
      };
    });
    out.ipam = {
      ...(typeof ipam.driver === 'string' ? { driver: ipam.driver } : {}),
      config,
      ...(ipam.options !== undefined ? { options: stringMap(svc, `${at}.ipam.options`, ipam.options) } : {}),
    };
  }
  return out;
}

function propagation(svc: string, key: string, v: string): Propagation {
  const p = PROPAGATIONS.find((x) => x === v);
  if (!p) throw new ComposeValueError(svc, key, `expected one of ${PROPAGATIONS.join(', ')}, got "${v}"`);
  return p;
}

/** The named volume's engine name and config, from the project's top-level `volumes:`. */
function volumeOf(project: Project | undefined, svcName: string, name: string, projectName: string): ContainerVolume {
  const cfg = project?.spec.volumes?.[name];
  if (project && !cfg) throw new ComposeValueError(svcName, 'volumes', `named volume "${name}" is not declared in the top-level volumes`);
  return {
    name: cfg?.name ?? `${projectName}_${name}`,
    external: cfg?.external === true || isObj(cfg?.external),
    driver: typeof cfg?.driver === 'string' ? cfg.driver : undefined,
    labels: { ...(cfg?.labels ?? {}), [LABEL.project]: projectName, [LABEL.volume]: name },
  };
}

/**
 * How a Compose service runs as a container for one task. `ports` are the
 * node ports the agent chose; the engine publishes each target port there
 * (on loopback) and the mesh serves the published port in front of all replicas.
 * With `names` (service VIPs, see serviceVips) the container asks baton's DNS
 * address for its project first, and a service with ports answers to no
 * engine alias: its name is baton's to give (the VIP, the same on every node).
 */
export function containerSpec(task: Pick<Task, 'id' | 'project' | 'service' | 'slot'>, svc: Service, project: Project | undefined, ports: TaskPort[], names?: { nameServer: string }): ContainerSpec {
  const s = svc.spec;
  const name = svc.name;
  const image = imageOf(svc);
  if (!image) throw new ComposeValueError(name, 'image', 'a container needs an image (or a build: section)');
  const raw = s as unknown as Obj;

  const networks: ContainerNetwork[] = Object.entries(s.networks ?? {}).map(([key, opts]) => {
    const cfg = project?.spec.networks?.[key];
    if (project && !cfg) throw new ComposeValueError(name, 'networks', `network "${key}" is not declared in the top-level networks`);
    return {
      name: cfg?.name ?? `${task.project}_${key}`,
      // tasks.<service> names every replica (as in Swarm's DNS), beside the service name the engine already gives all of them.
      aliases: [...(opts?.aliases ?? []), `tasks.${name}`],
      ...(typeof opts?.ipv4_address === 'string' ? { ipv4Address: opts.ipv4_address } : {}),
      ...(typeof opts?.ipv6_address === 'string' ? { ipv6Address: opts.ipv6_address } : {}),
      external: cfg?.external === true || isObj(cfg?.external),
      internal: cfg?.internal === true,
      driver: typeof cfg?.driver === 'string' ? cfg.driver : undefined,
      labels: { ...(cfg?.labels ?? {}), [LABEL.project]: task.project, [LABEL.network]: key },
      ...(cfg ? networkCreation(name, key, cfg) : {}),
    };
  });

  const mounts: ContainerMount[] = [];
  const volumes: ContainerVolume[] = [];
  for (const [i, m] of (s.volumes ?? []).entries()) {
    const key = `volumes[${i}]`;
    if (m.type === 'volume') {
      if (m.source) {
        const v = volumeOf(project, name, m.source, task.project);
        if (!volumes.some((x) => x.name === v.name)) volumes.push(v);
        mounts.push({ type: 'volume', source: v.name, target: m.target, readOnly: m.read_only === true });
      } else mounts.push({ type: 'volume', target: m.target, readOnly: m.read_only === true });
    } else if (m.type === 'bind') {
      mounts.push({
        type: 'bind',
        source: m.source,
        target: m.target,
        readOnly: m.read_only === true,
        ...(m.bind?.create_host_path === true ? { createHostPath: true } : {}),
        ...(m.bind?.propagation ? { propagation: propagation(name, `${key}.bind.propagation`, m.bind.propagation) } : {}),
      });
    } else if (m.type === 'tmpfs') {
      const size = m.tmpfs?.size === undefined ? undefined : parseBytes(m.tmpfs.size);
      if (m.tmpfs?.size !== undefined && size === undefined) throw new ComposeValueError(name, `${key}.tmpfs.size`, `invalid size "${String(m.tmpfs.size)}"`);
      mounts.push({ type: 'tmpfs', target: m.target, readOnly: m.read_only === true, tmpfsSize: size });
    } else throw new ComposeValueError(name, `${key}.type`, `"${m.type}" mounts are not supported`);
  }

  const limits = s.deploy?.resources?.limits;
  let nanoCpus: number | undefined;
  const cpus = limits?.cpus ?? raw.cpus;
  if (cpus !== undefined) {
    const n = Number(cpus);
    if (!Number.isFinite(n) || n <= 0) throw new ComposeValueError(name, 'deploy.resources.limits.cpus', `expected a positive number, got "${String(cpus)}"`);
    nanoCpus = Math.round(n * 1e9);
  }
  const memText = limits?.memory ?? raw.mem_limit;
  const memoryBytes = memText === undefined ? undefined : parseBytes(memText);
  if (memText !== undefined && !memoryBytes) throw new ComposeValueError(name, 'deploy.resources.limits.memory', `invalid size "${String(memText)}"`);
  const pids = limits?.pids ?? raw.pids_limit;
  if (pids !== undefined && (typeof pids !== 'number' || !Number.isInteger(pids))) throw new ComposeValueError(name, 'deploy.resources.limits.pids', `expected a whole number, got "${String(pids)}"`);
  const shm = raw.shm_size === undefined ? undefined : parseBytes(raw.shm_size);
  if (raw.shm_size !== undefined && shm === undefined) throw new ComposeValueError(name, 'shm_size', `invalid size "${String(raw.shm_size)}"`);

  let logging: ContainerSpec['logging'];
  if (isObj(raw.logging) && typeof raw.logging.driver === 'string') logging = { driver: raw.logging.driver, options: stringMap(name, 'logging.options', raw.logging.options) };

  const env: Record<string, string> = {};
  // Declared-but-unset variables (null) stay out, as in Compose.
  for (const [k, v] of Object.entries(s.environment ?? {})) if (v !== null) env[k] = v;
  env.BATON_PROJECT = task.project;
  env.BATON_SERVICE = task.service;
  env.BATON_SLOT = String(task.slot);

  const named = names !== undefined && svc.ports.length > 0;
  if (named) for (const n of networks) n.aliases = [];
  // Compose names a replica's container <project>-<service>-<n>, and that name resolves on its networks;
  // baton's container names carry the task id too (a slot may have two during an update), so the Compose name is an alias.
  if (typeof s.container_name !== 'string') for (const n of networks) n.aliases.push(`${task.project}-${task.service}-${task.slot}`);
  if (s.platform !== undefined && (typeof s.platform !== 'string' || !/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(s.platform))) {
    throw new ComposeValueError(name, 'platform', `expected OS/ARCH[/VARIANT] such as linux/amd64, got ${JSON.stringify(s.platform)}`);
  }
  return {
    image,
    ...(typeof s.platform === 'string' ? { platform: s.platform } : {}),
    // A built image is never pulled: it is here or the build failed.
    pullPolicy: s.build && !s.image ? 'never' : pullPolicy(name, s.pull_policy),
    entrypoint: s.entrypoint ?? undefined,
    command: s.command ?? undefined,
    env,
    workingDir: s.working_dir,
    hostname: s.hostname,
    labels: { ...(s.labels ?? {}), [LABEL.project]: task.project, [LABEL.service]: task.service, [LABEL.slot]: String(task.slot), [LABEL.task]: task.id },
    ports: ports.map((p) => ({ target: p.target, protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort })),
    mounts,
    volumes,
    networks,
    serviceAlias: named ? '' : svc.name,
    init: s.init,
    readOnly: raw.read_only === true,
    privileged: raw.privileged === true,
    capAdd: strings(name, 'cap_add', raw.cap_add),
    capDrop: strings(name, 'cap_drop', raw.cap_drop),
    ulimits: ulimits(name, raw.ulimits),
    sysctls: stringMap(name, 'sysctls', raw.sysctls),
    extraHosts: extraHosts(name, raw.extra_hosts),
    // A container in another's network namespace has that one's resolver (the engine refuses a DNS server of its own).
    dns: [...(names && !/^(container|service):/.test(String(raw.network_mode ?? '')) ? [names.nameServer] : []), ...strings(name, 'dns', raw.dns)],
    tmpfs: strings(name, 'tmpfs', raw.tmpfs),
    devices: devices(name, raw.devices),
    shmSizeBytes: shm,
    nanoCpus,
    memoryBytes,
    pidsLimit: pids as number | undefined,
    logging,
    engine: engineOptions(name, raw),
  };
}

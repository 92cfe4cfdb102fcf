import type { Service, Task, TaskPort } from '../model/types.js';
import { envName } from '../model/service.js';
import { hashedAddresses, parseSubnet, type AddressBlock } from './addresses.js';

/** Host variables a process needs to find programs and a home; nothing else leaks from the daemon. */
const INHERITED = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SHELL'];

/**
 * The environment of one task: a few host basics, the service's own
 * `environment` (env_file already merged in), then baton's: its ports in PORT
 * and BATON_PORT_<target>, and every service of the project as <NAME>_HOST and
 * <NAME>_PORT (the mesh's stable loopback address for it).
 */
export function taskEnvironment(
  task: Pick<Task, 'id' | 'project' | 'service' | 'slot'>,
  svc: Service,
  ports: TaskPort[],
  projectServices: Service[],
  host: NodeJS.ProcessEnv,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of INHERITED) if (host[k] !== undefined) env[k] = host[k]!;
  for (const other of projectServices) {
    if (other.ports.length === 0) continue;
    const n = envName(other.name);
    env[`${n}_HOST`] = '127.0.0.1';
    env[`${n}_PORT`] = String(other.ports[0].vipPort);
    for (const p of other.ports) env[`${n}_PORT_${p.target}${p.protocol === 'udp' ? '_UDP' : ''}`] = String(p.vipPort);
  }
  for (const [k, v] of Object.entries(svc.spec.environment ?? {})) {
    if (v !== null) env[k] = v;
    else if (host[k] !== undefined) env[k] = host[k]!;
  }
  if (ports.length > 0) env.PORT = String(ports[0].hostPort);
  for (const p of ports) env[`BATON_PORT_${p.target}${p.protocol === 'udp' ? '_UDP' : ''}`] = String(p.hostPort);
  env.BATON_PROJECT = task.project;
  env.BATON_SERVICE = task.service;
  env.BATON_SLOT = String(task.slot);
  return env;
}

/** entrypoint + command, as a container would run them. */
export function taskArgv(svc: Service): string[] {
  return [...(svc.spec.entrypoint ?? []), ...(svc.spec.command ?? [])];
}

/**
 * Per-service loopback addresses (opt-in; see serviceNameAddresses): 127.64.0.0/10,
 * away from 127.0.0.0/16 where hosts keep their own (127.0.0.1, 127.0.0.53,
 * 127.0.1.1...).
 */
const NAME_BLOCK: AddressBlock = parseSubnet('127.64.0.0/10');

/** A listener the mesh opens so that `<service>:<target>` reaches the service from process tasks. */
export interface NameListener {
  /** Service id, `project/name`. */
  service: string;
  target: number;
  protocol: 'tcp' | 'udp';
  address: string;
}

export interface ServiceNames {
  /** Service id → its loopback address. */
  addresses: Map<string, string>;
  listeners: NameListener[];
  /**
   * Services a name cannot be given to: another service publishes one of
   * their target ports on every address, so `<name>:<target>` would reach
   * that one. Left out of hosts files, so the name fails rather than misleads.
   */
  shadowed: Set<string>;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/**
 * Service names for process tasks, which share the host's network: a hosts
 * file can only give an address, not a port, so each service with ports gets
 * a loopback address of its own (127.x.y.z, stable while the service exists,
 * chosen from a hash of `salt` and its id, older services first on a clash),
 * and the mesh listens there on each target port. That listener holds the
 * port on that address, which keeps any program from later listening on the
 * same port on every address (0.0.0.0 / ::): hence opt-in (the agent's
 * `serviceNames`). A target port another service already publishes on
 * every address is left to that listener (see `shadowed`).
 */
export function serviceNameAddresses(services: Iterable<Service>, salt: string): ServiceNames {
  const all = [...services].filter((s) => s.ports.length > 0).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  const addresses = hashedAddresses(all.map((s) => s.id), salt, NAME_BLOCK);
  // Ports published on every address: such a listener answers on all of 127/8 too.
  const published = new Set<string>();
  for (const s of all) {
    if (s.stopped) continue;
    for (const p of s.ports) if (p.published !== undefined && WILDCARD.has(p.hostIp ?? '')) published.add(`${p.published}/${p.protocol}`);
  }
  const listeners: NameListener[] = [];
  const shadowed = new Set<string>();
  for (const s of all) {
    const address = addresses.get(s.id)!;
    for (const p of s.ports) {
      // Published as target:target on every address: that listener, with the same backends, already answers there.
      if (p.published === p.target && WILDCARD.has(p.hostIp ?? '')) continue;
      if (published.has(`${p.target}/${p.protocol}`)) shadowed.add(s.id);
      else if (!s.stopped) listeners.push({ service: s.id, target: p.target, protocol: p.protocol, address });
    }
  }
  return { addresses, listeners, shadowed };
}

const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/**
 * The lines baton puts at the top of a process task's /etc/hosts: the
 * service's `extra_hosts` (`host-gateway` is this host: 127.0.0.1), and, when
 * service addresses are on, every service of the project with ports by name,
 * network alias, container_name and this service's `links` aliases. Empty
 * when there is nothing to add: the task then keeps the host's file as it is.
 */
export function hostsEntries(svc: Service, projectServices: Service[], names?: ServiceNames): string {
  const lines: string[] = [`# baton: task of ${svc.project}/${svc.name}`];
  const byAddress = new Map<string, Set<string>>();
  const add = (address: string, name: string): void => {
    if (!HOST_NAME.test(name)) return;
    const set = byAddress.get(address) ?? new Set<string>();
    set.add(name);
    byAddress.set(address, set);
  };
  if (names) {
    const byName = new Map(projectServices.map((s) => [s.name, s]));
    for (const other of projectServices) {
      const address = names.addresses.get(other.id);
      if (!address) continue;
      if (names.shadowed.has(other.id)) {
        lines.push(`# ${other.name}: a target port of it is published by another service on every address; reach it at $${envName(other.name)}_HOST:$${envName(other.name)}_PORT`);
        continue;
      }
      add(address, other.name);
      for (const n of Object.values(other.spec.networks ?? {})) for (const a of n?.aliases ?? []) add(address, a);
      if (typeof other.spec.container_name === 'string') add(address, other.spec.container_name);
    }
    for (const link of Array.isArray(svc.spec.links) ? svc.spec.links : []) {
      const [target, alias = target] = String(link).split(':');
      const address = byName.get(target) && !names.shadowed.has(byName.get(target)!.id) ? names.addresses.get(byName.get(target)!.id) : undefined;
      if (address) add(address, alias);
    }
  }
  for (const [address, set] of byAddress) lines.push(`${address}\t${[...set].join(' ')}`);
  const extra = svc.spec.extra_hosts;
  const entries = Array.isArray(extra) ? extra.map(String) : extra && typeof extra === 'object' ? Object.entries(extra).map(([h, ip]) => `${h}:${String(ip)}`) : [];
  for (const e of entries) {
    // "host:ip", "host=ip"; an IPv6 address holds colons, so the host is what comes before the first separator.
    const m = /^([^:=]+)[:=](.+)$/.exec(e.trim());
    if (!m || !HOST_NAME.test(m[1])) continue;
    const ip = m[2].replace(/^\[(.*)\]$/, '$1');
    lines.push(`${ip === 'host-gateway' ? '127.0.0.1' : ip}\t${m[1]}`);
  }
  return lines.length > 1 ? `${lines.join('\n')}\n` : '';
}

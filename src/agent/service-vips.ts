import type { DnsZone, Route } from '../mesh/index.js';
import type { Service, Task } from '../model/types.js';
import { hashedAddresses, type AddressBlock } from './addresses.js';
import { portBackends, routableByService, type RouteContext } from './endpoints.js';

/** Seconds a container's resolver may keep a name: short, since tasks come and go. */
const TTL = 5;

/**
 * Service names for containers on every node, without an overlay network:
 * each project gets a DNS address on this node, each service with ports a
 * virtual address (VIP), and each running task one of its own, all taken
 * from one block and held by this node. The mesh listens on every VIP at the
 * service's target ports and forwards to the service's tasks (a task VIP: to
 * that task alone) wherever they run. A container asks its project's DNS
 * address, so `web` gives the service's VIP, or with `endpoint_mode: dnsrr`
 * the task VIPs, and `tasks.web` gives the task VIPs, as Swarm's DNS does.
 */
export interface ServiceVips {
  /** Project → the address its containers send DNS queries to. */
  dns: Map<string, string>;
  zones: DnsZone[];
  /** The mesh routes on the VIPs. */
  routes: Route[];
  /** Every address this node must hold. */
  addresses: string[];
}

/** The names a service answers to in its project: its name, its network aliases, its container_name. */
function serviceNames(svc: Service): string[] {
  const names = [svc.name];
  for (const n of Object.values(svc.spec.networks ?? {})) names.push(...(n?.aliases ?? []));
  if (typeof svc.spec.container_name === 'string') names.push(svc.spec.container_name);
  return names.map((n) => n.toLowerCase());
}

/**
 * The ports a service's VIP answers on: those its file declares (`ports`,
 * `expose`), then those its running tasks report beyond them (a container
 * image's EXPOSE), once each.
 */
export function vipPorts(svc: Service, tasks: Task[]): { target: number; protocol: 'tcp' | 'udp' }[] {
  const out = svc.ports.map((p) => ({ target: p.target, protocol: p.protocol }));
  const seen = new Set(out.map((p) => `${p.target}/${p.protocol}`));
  const observed = tasks.flatMap((t) => t.ports).sort((a, b) => a.target - b.target || a.protocol.localeCompare(b.protocol));
  for (const p of observed) {
    const key = `${p.target}/${p.protocol}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ target: p.target, protocol: p.protocol });
  }
  return out;
}

const SALT = 'vip';

/**
 * The DNS address of each project with a running service. It depends on the
 * set of projects only (they are placed first in the block), so a task about
 * to start learns its own without the rest of the plan.
 */
export function projectDns(services: Map<string, Service>, block: AddressBlock, taken?: Set<number>): Map<string, string> {
  const ids = [...new Set([...services.values()].filter((s) => !s.stopped).map((s) => s.project))].sort();
  const byId = hashedAddresses(ids.map((p) => `dns:${p}`), SALT, block, taken);
  return new Map(ids.map((p) => [p, byId.get(`dns:${p}`)!]));
}

export function serviceVips(services: Map<string, Service>, tasks: Task[], at: RouteContext, block: AddressBlock): ServiceVips {
  const taken = new Set<number>();
  const live = [...services.values()].filter((s) => !s.stopped);
  const dns = projectDns(services, block, taken);
  const bySvc = routableByService(tasks);
  const portsOf = new Map(live.map((s) => [s.id, vipPorts(s, bySvc.get(s.id) ?? [])]));
  const withPorts = live.filter((s) => portsOf.get(s.id)!.length > 0).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  const svcVip = hashedAddresses(withPorts.map((s) => `svc:${s.id}`), SALT, block, taken);
  const running = withPorts.flatMap((s) => (bySvc.get(s.id) ?? []).slice().sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id)));
  const taskVip = hashedAddresses(running.map((t) => `task:${t.id}`), SALT, block, taken);

  const routes: Route[] = [];
  const names = new Map<string, Map<string, string[]>>();
  for (const p of dns.keys()) names.set(p, new Map());
  for (const svc of withPorts) {
    const vip = svcVip.get(`svc:${svc.id}`);
    if (!vip) continue; // the block is full
    const own = bySvc.get(svc.id) ?? [];
    const routed = new Set<string>();
    for (const p of portsOf.get(svc.id)!) {
      const backends = portBackends(own, p, at);
      const base = `${svc.id}:${p.target}/${p.protocol}`;
      routes.push({ id: `${base}@vip-address`, listen: { host: vip, port: p.target }, protocol: p.protocol, backends, ...(svc.balance ? { balance: svc.balance } : {}) });
      for (const b of backends) {
        const address = taskVip.get(`task:${b.id}`);
        if (!address) continue;
        routes.push({ id: `${base}@task:${b.id}`, listen: { host: address, port: p.target }, protocol: p.protocol, backends: [b] });
        routed.add(address);
      }
    }
    const taskAddresses = [...routed];
    const zone = names.get(svc.project)!;
    const answer = svc.spec.deploy?.endpoint_mode === 'dnsrr' ? taskAddresses : [vip];
    for (const n of serviceNames(svc)) zone.set(n, answer);
    zone.set(`tasks.${svc.name.toLowerCase()}`, taskAddresses);
  }
  const zones: DnsZone[] = [...dns].map(([project, address]) => ({ address, names: names.get(project)!, ttl: TTL }));
  const addresses = [...new Set([...dns.values(), ...routes.map((r) => r.listen.host)])];
  return { dns, zones, routes, addresses };
}

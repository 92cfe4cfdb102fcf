import { resolve } from 'node:path';
import type { CertSource, HttpRoute, Route } from '../mesh/index.js';
import type { NodeInfo, Service, Task, TaskPort } from '../model/types.js';

/** Which node the routes are for, and where the other nodes are. */
export interface RouteContext {
  self: string;
  nodes?: Map<string, NodeInfo>;
}

/**
 * Where a task's port is reached from this node: as reported on its own node;
 * from elsewhere, through its node's mesh at the port's nodePort when it has
 * one (a container's address answers only on its own node), else through its
 * node's address (a task on loopback there is listening on all of that node's
 * addresses, as process tasks do).
 */
function reach(t: Task, tp: TaskPort, at: RouteContext | undefined): { host: string; port: number } | undefined {
  if (!at || !t.node || t.node === at.self) return { host: tp.hostIp, port: tp.hostPort };
  const node = at.nodes?.get(t.node);
  if (!node || node.state !== 'ready') return undefined;
  if (tp.nodePort) return { host: node.address, port: tp.nodePort };
  const local = tp.hostIp === '127.0.0.1' || tp.hostIp === '0.0.0.0' || tp.hostIp === '::1' || tp.hostIp === '::';
  return { host: local ? node.address : tp.hostIp, port: tp.hostPort };
}
import { isRoutable } from '../model/task.js';
import type { NameListener } from './environment.js';

/** The running, routable tasks of each service, by service id (project/name). */
export function routableByService(tasks: Task[]): Map<string, Task[]> {
  const bySvc = new Map<string, Task[]>();
  for (const t of tasks) {
    if (t.desiredState !== 'running' || !isRoutable(t)) continue;
    const id = `${t.project}/${t.service}`;
    const list = bySvc.get(id);
    if (list) list.push(t);
    else bySvc.set(id, [t]);
  }
  return bySvc;
}

/** Where each of these tasks answers for one port (target and protocol), as reached from this node. */
export function portBackends(tasks: Task[], port: { target: number; protocol: 'tcp' | 'udp' }, at: RouteContext | undefined): { id: string; host: string; port: number }[] {
  return tasks.flatMap((t) => {
    const tp = t.ports.find((x) => x.target === port.target && x.protocol === port.protocol);
    const to = tp && reach(t, tp, at);
    return to ? [{ id: t.id, ...to }] : [];
  });
}

/**
 * The mesh routes for a node: for every service port, a listener on its
 * stable loopback port (how other services reach it) and, when published, on
 * the published port; each balancing over the service's routable tasks.
 * `names` adds one on the service's own loopback address at the target port
 * (service names for process tasks, when on).
 */
export function meshRoutes(services: Map<string, Service>, tasks: Task[], at?: RouteContext, names: NameListener[] = []): Route[] {
  const named = new Map(names.map((n) => [`${n.service}:${n.target}/${n.protocol}`, n.address]));
  const bySvc = routableByService(tasks);
  const routes: Route[] = [];
  for (const svc of services.values()) {
    if (svc.stopped) continue;
    for (const p of svc.ports) {
      const backends = portBackends(bySvc.get(svc.id) ?? [], p, at);
      const base = `${svc.id}:${p.target}/${p.protocol}`;
      const balance = svc.balance ? { balance: svc.balance } : {};
      routes.push({ id: `${base}@vip`, listen: { host: '127.0.0.1', port: p.vipPort }, protocol: p.protocol, backends, ...balance });
      const address = named.get(`${svc.id}:${p.target}/${p.protocol}`);
      if (address) routes.push({ id: `${base}@name`, listen: { host: address, port: p.target }, protocol: p.protocol, backends, ...balance });
      if (p.published === undefined) continue;
      if (p.mode === 'host') {
        // Host mode: the port answers only on nodes where the service runs, and only for their own tasks.
        const here = at ? (bySvc.get(svc.id) ?? []).filter((t) => t.node === at.self).map((t) => t.id) : undefined;
        const local = here ? backends.filter((b) => here.includes(b.id)) : backends;
        const runsHere = !at || tasks.some((t) => t.node === at.self && t.project === svc.project && t.service === svc.name && t.desiredState === 'running');
        if (runsHere) routes.push({ id: `${base}@${p.published}`, listen: { host: p.hostIp ?? '0.0.0.0', port: p.published }, protocol: p.protocol, backends: local, ...balance });
      } else {
        routes.push({ id: `${base}@${p.published}`, listen: { host: p.hostIp ?? '0.0.0.0', port: p.published }, protocol: p.protocol, backends, ...balance });
      }
    }
  }
  routes.push(...nodePortRoutes(tasks, at));
  return routes;
}

/**
 * The ports by which other nodes reach this node's tasks whose addresses only
 * this node can reach (containers): one listener per task port with a
 * nodePort, open only to the cluster's nodes. None while this node is alone.
 */
export function nodePortRoutes(tasks: Task[], at: RouteContext | undefined): Route[] {
  const nodes = [...(at?.nodes?.values() ?? [])];
  if (!at || !nodes.some((n) => n.id !== at.self)) return [];
  const sources = ['127.0.0.0/8', ...nodes.map((n) => `${n.address}/32`)];
  const routes: Route[] = [];
  for (const list of routableByService(tasks).values()) {
    for (const t of list) {
      if (t.node !== at.self) continue;
      for (const tp of t.ports) {
        if (!tp.nodePort) continue;
        routes.push({ id: `${t.project}/${t.service}:${tp.target}/${tp.protocol}@node:${t.id}`, listen: { host: '0.0.0.0', port: tp.nodePort }, protocol: tp.protocol, backends: [{ id: t.id, host: tp.hostIp, port: tp.hostPort }], sources });
      }
    }
  }
  return routes;
}

/** The HTTP ingress routes: each service with a domain, over its routable tasks' ports for the ingress target. */
export function ingressRoutes(services: Map<string, Service>, tasks: Task[], at?: RouteContext): HttpRoute[] {
  const routes: HttpRoute[] = [];
  const bySvc = routableByService(tasks);
  for (const svc of services.values()) {
    if (svc.stopped || !svc.ingress) continue;
    const ing = svc.ingress;
    const backends = portBackends(bySvc.get(svc.id) ?? [], { target: ing.target, protocol: 'tcp' }, at);
    routes.push({
      id: svc.id,
      domains: ing.domains,
      path: ing.path,
      backends,
      ...(ing.timeoutMs ? { timeoutMs: ing.timeoutMs } : {}),
      ...(ing.tls ? { tls: true } : {}),
      ...(ing.redirectHttps ? { redirectHttps: true } : {}),
      ...(svc.balance ? { balance: svc.balance } : {}),
    });
  }
  return routes;
}

/** Where each HTTPS domain's certificate comes from: the ACME server, or PEM files read from the project folder. */
export function certSources(services: Map<string, Service>, read: (path: string) => string): { sources: Map<string, CertSource>; errors: string[] } {
  const sources = new Map<string, CertSource>();
  const errors: string[] = [];
  for (const svc of services.values()) {
    const t = svc.ingress?.tls;
    if (!t || svc.stopped) continue;
    let source: CertSource;
    if ('acme' in t) source = { kind: 'acme' };
    else {
      try {
        source = { kind: 'file', cert: read(resolve(svc.workingDir, t.cert)), key: read(resolve(svc.workingDir, t.key)) };
      } catch (err) {
        errors.push(`${svc.id}: x-baton.tls: ${(err as Error).message}`);
        continue;
      }
    }
    for (const d of svc.ingress!.domains) sources.set(d, source);
  }
  return { sources, errors };
}

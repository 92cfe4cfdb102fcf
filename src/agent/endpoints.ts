import { resolve } from 'node:path';
import type { CertSource, HttpRoute, Route } from '../mesh/index.js';
import type { Service, Task } from '../model/types.js';
import { isRoutable } from '../model/task.js';
import type { NameListener } from './environment.js';

/**
 * The mesh routes for a node: for every service port, a listener on its
 * stable loopback port (how other services reach it) and, when published, on
 * the published port; each balancing over the service's routable tasks.
 * `names` adds one on the service's own loopback address at the target port
 * (service names for process tasks, when on).
 */
export function meshRoutes(services: Map<string, Service>, tasks: Task[], names: NameListener[] = []): Route[] {
  const named = new Map(names.map((n) => [`${n.service}:${n.target}/${n.protocol}`, n.address]));
  const bySvc = new Map<string, Task[]>();
  for (const t of tasks) {
    if (t.desiredState !== 'running' || !isRoutable(t)) continue;
    const id = `${t.project}/${t.service}`;
    const list = bySvc.get(id) ?? [];
    list.push(t);
    bySvc.set(id, list);
  }
  const routes: Route[] = [];
  for (const svc of services.values()) {
    if (svc.stopped) continue;
    for (const p of svc.ports) {
      const backends = (bySvc.get(svc.id) ?? []).flatMap((t) => {
        const tp = t.ports.find((x) => x.target === p.target && x.protocol === p.protocol);
        return tp ? [{ id: t.id, host: tp.hostIp, port: tp.hostPort }] : [];
      });
      const base = `${svc.id}:${p.target}/${p.protocol}`;
      routes.push({ id: `${base}@vip`, listen: { host: '127.0.0.1', port: p.vipPort }, protocol: p.protocol, backends });
      const address = named.get(`${svc.id}:${p.target}/${p.protocol}`);
      if (address) routes.push({ id: `${base}@name`, listen: { host: address, port: p.target }, protocol: p.protocol, backends });
      if (p.published !== undefined) {
        routes.push({ id: `${base}@${p.published}`, listen: { host: p.hostIp ?? '0.0.0.0', port: p.published }, protocol: p.protocol, backends });
      }
    }
  }
  return routes;
}

/** The HTTP ingress routes: each service with a domain, over its routable tasks' ports for the ingress target. */
export function ingressRoutes(services: Map<string, Service>, tasks: Task[]): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const svc of services.values()) {
    if (svc.stopped || !svc.ingress) continue;
    const ing = svc.ingress;
    const backends = tasks
      .filter((t) => t.project === svc.project && t.service === svc.name && t.desiredState === 'running' && isRoutable(t))
      .flatMap((t) => {
        const tp = t.ports.find((x) => x.target === ing.target && x.protocol === 'tcp');
        return tp ? [{ id: t.id, host: tp.hostIp, port: tp.hostPort }] : [];
      });
    routes.push({
      id: svc.id,
      domains: ing.domains,
      path: ing.path,
      backends,
      ...(ing.timeoutMs ? { timeoutMs: ing.timeoutMs } : {}),
      ...(ing.tls ? { tls: true } : {}),
      ...(ing.redirectHttps ? { redirectHttps: true } : {}),
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

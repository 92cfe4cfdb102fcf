import { createHash } from 'node:crypto';
import type { ComposeProject, ServiceConfig, UpdateConfig } from '../spec/types.js';
import { parseDuration } from '../spec/duration.js';
import type { Healthcheck, RestartPolicy, Service, ServiceIngress, ServicePortSpec, TaskFileRef, UpdatePolicy } from './types.js';

export class ServiceSpecError extends Error {
  constructor(readonly service: string, message: string) {
    super(`service "${service}": ${message}`);
    this.name = 'ServiceSpecError';
  }
}

const ms = (service: string, key: string, v: string | undefined, dflt: number): number => {
  if (v === undefined) return dflt;
  const n = parseDuration(v);
  if (n === undefined) throw new ServiceSpecError(service, `${key}: invalid duration "${v}"`);
  return n;
};

/** Which driver runs a service: its own x-baton.driver, then the project's, then the default. */
export function serviceDriver(cfg: ServiceConfig, project: ComposeProject, fallback: string): string {
  return cfg['x-baton']?.driver ?? project['x-baton']?.driver ?? fallback;
}

/**
 * Compose's `restart:` and Swarm's `deploy.restart_policy` as one policy.
 * The deploy form wins when present, as in Swarm; otherwise `restart:` with Compose's default "no".
 */
export function restartPolicy(cfg: ServiceConfig): RestartPolicy {
  const rp = cfg.deploy?.restart_policy;
  if (rp) {
    return {
      condition: rp.condition ?? 'any',
      delayMs: ms(cfg.name, 'deploy.restart_policy.delay', rp.delay, 0),
      maxAttempts: rp.max_attempts ?? 0,
      windowMs: ms(cfg.name, 'deploy.restart_policy.window', rp.window, 0),
    };
  }
  const r = cfg.restart ?? 'no';
  if (r === 'no') return { condition: 'none', delayMs: 0, maxAttempts: 0, windowMs: 0 };
  if (r === 'always' || r === 'unless-stopped') return { condition: 'any', delayMs: 0, maxAttempts: 0, windowMs: 0 };
  const m = /^on-failure(?::(\d+))?$/.exec(r);
  if (m) return { condition: 'on-failure', delayMs: 0, maxAttempts: m[1] ? Number(m[1]) : 0, windowMs: 0 };
  throw new ServiceSpecError(cfg.name, `restart: invalid value "${r}" (expected no, always, on-failure[:N] or unless-stopped)`);
}

/** Compose healthcheck defaults: interval 30s, timeout 30s, retries 3, start_period 0, start_interval 5s. */
export function healthcheck(cfg: ServiceConfig): Healthcheck | undefined {
  const h = cfg.healthcheck;
  if (!h || h.disable || !h.test || h.test.length === 0 || h.test[0] === 'NONE') return undefined;
  const [kind, ...rest] = h.test;
  let test: Healthcheck['test'];
  if (kind === 'CMD') test = { kind: 'exec', argv: rest };
  else if (kind === 'CMD-SHELL') test = { kind: 'shell', command: rest.join(' ') };
  else test = { kind: 'shell', command: h.test.join(' ') };
  if (test.kind === 'exec' && test.argv.length === 0) throw new ServiceSpecError(cfg.name, 'healthcheck.test: CMD needs a command');
  return {
    test,
    intervalMs: ms(cfg.name, 'healthcheck.interval', h.interval, 30_000),
    timeoutMs: ms(cfg.name, 'healthcheck.timeout', h.timeout, 30_000),
    retries: h.retries ?? 3,
    startPeriodMs: ms(cfg.name, 'healthcheck.start_period', h.start_period, 0),
    startIntervalMs: ms(cfg.name, 'healthcheck.start_interval', h.start_interval, 5_000),
  };
}

/**
 * `deploy.update_config` or `deploy.rollback_config` with Swarm's defaults:
 * one task at a time, no delay, stop-first, pause on failure, 5s monitor, no failure tolerated.
 */
export function updatePolicy(cfg: ServiceConfig, which: 'update_config' | 'rollback_config'): UpdatePolicy {
  const u: UpdateConfig = cfg.deploy?.[which] ?? {};
  const key = `deploy.${which}`;
  const parallelism = u.parallelism ?? 1;
  if (!Number.isInteger(parallelism) || parallelism < 0) throw new ServiceSpecError(cfg.name, `${key}.parallelism: must be a whole number >= 0, got ${parallelism}`);
  const ratio = u.max_failure_ratio ?? 0;
  if (typeof ratio !== 'number' || ratio < 0 || ratio > 1) throw new ServiceSpecError(cfg.name, `${key}.max_failure_ratio: must be a number from 0 to 1, got ${String(ratio)}`);
  const order = u.order ?? 'stop-first';
  if (order !== 'stop-first' && order !== 'start-first') throw new ServiceSpecError(cfg.name, `${key}.order: expected stop-first or start-first, got "${String(order)}"`);
  const failureAction = u.failure_action ?? 'pause';
  if (!['pause', 'continue', 'rollback'].includes(failureAction)) {
    throw new ServiceSpecError(cfg.name, `${key}.failure_action: expected pause, continue or rollback, got "${String(failureAction)}"`);
  }
  if (which === 'rollback_config' && failureAction === 'rollback') {
    throw new ServiceSpecError(cfg.name, `${key}.failure_action: a rollback cannot itself roll back (use pause or continue)`);
  }
  return {
    parallelism,
    delayMs: ms(cfg.name, `${key}.delay`, u.delay, 0),
    order,
    failureAction,
    monitorMs: ms(cfg.name, `${key}.monitor`, u.monitor, 5_000),
    maxFailureRatio: ratio,
  };
}

export function replicas(cfg: ServiceConfig): number {
  const n = cfg.deploy?.replicas ?? cfg.scale ?? 1;
  if (!Number.isInteger(n) || n < 0) throw new ServiceSpecError(cfg.name, `deploy.replicas: must be a whole number >= 0, got ${n}`);
  return n;
}

/** The target ports a service listens on: published ones first, then `expose`. */
export function targetPorts(cfg: ServiceConfig): { target: number; protocol: 'tcp' | 'udp'; published?: number; hostIp?: string; mode?: 'host' }[] {
  const out: { target: number; protocol: 'tcp' | 'udp'; published?: number; hostIp?: string; mode?: 'host' }[] = [];
  const seen = new Set<string>();
  // On the host's network a container listens on the host's own ports: Docker discards published ones, and so does baton.
  const hostNetwork = cfg.network_mode === 'host';
  for (const p of cfg.ports) {
    const published = hostNetwork || p.published === undefined || p.published === '' ? undefined : Number(p.published.split('-')[0]);
    if (published !== undefined && p.published!.includes('-')) {
      throw new ServiceSpecError(cfg.name, `ports: published port ranges ("${p.published}") are not supported yet; publish single ports`);
    }
    out.push({ target: p.target, protocol: p.protocol, published, hostIp: p.host_ip, ...(p.mode === 'host' && published !== undefined ? { mode: 'host' as const } : {}) });
    seen.add(`${p.target}/${p.protocol}`);
  }
  // The ingress reaches the port x-baton.http_port names, published or not.
  const http = ingressSpec(cfg);
  if (http && !seen.has(`${http.target}/tcp`)) {
    out.push({ target: http.target, protocol: 'tcp' });
    seen.add(`${http.target}/tcp`);
  }
  for (const e of cfg.expose) {
    const [num, proto = 'tcp'] = String(e).split('/');
    const target = Number(num);
    const protocol = proto === 'udp' ? 'udp' : 'tcp';
    if (!Number.isInteger(target)) continue;
    if (!seen.has(`${target}/${protocol}`)) out.push({ target, protocol });
    seen.add(`${target}/${protocol}`);
  }
  return out;
}

const HOST_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * HTTP ingress of a service from `x-baton: {domain, path, http_port, timeout}`:
 * the hosts (and path prefix) the ingress routes to the service's `http_port`
 * (default: its first port's target, else 80).
 */
export function ingressSpec(cfg: ServiceConfig): ServiceIngress | undefined {
  const x = cfg['x-baton'];
  if (!x || x.domain === undefined) return undefined;
  const raw = Array.isArray(x.domain) ? x.domain : [x.domain];
  const domains = raw.map((d) => String(d).trim().toLowerCase());
  for (const d of domains) {
    if (!HOST_NAME.test(d)) throw new ServiceSpecError(cfg.name, `x-baton.domain: "${d}" is not a host name (or *.wildcard)`);
  }
  if (domains.length === 0) throw new ServiceSpecError(cfg.name, 'x-baton.domain: give at least one host name');
  const path = x.path === undefined ? '/' : String(x.path);
  if (!path.startsWith('/')) throw new ServiceSpecError(cfg.name, `x-baton.path: "${path}" must start with "/"`);
  const target = x.http_port === undefined ? (cfg.ports[0]?.target ?? 80) : Number(x.http_port);
  if (!Number.isInteger(target) || target < 1 || target > 65535) throw new ServiceSpecError(cfg.name, `x-baton.http_port: expected a port number, got "${String(x.http_port)}"`);
  const timeoutMs = x.timeout === undefined ? undefined : parseDuration(String(x.timeout));
  if (x.timeout !== undefined && timeoutMs === undefined) throw new ServiceSpecError(cfg.name, `x-baton.timeout: "${String(x.timeout)}" is not a duration`);
  let tls: ServiceIngress['tls'];
  if (x.tls === 'acme' || x.tls === true) tls = { acme: true };
  else if (x.tls && typeof x.tls === 'object') {
    if (typeof x.tls.cert !== 'string' || typeof x.tls.key !== 'string') throw new ServiceSpecError(cfg.name, 'x-baton.tls: give both cert and key (PEM files), or "acme"');
    tls = { cert: x.tls.cert, key: x.tls.key };
  } else if (x.tls !== undefined && x.tls !== false) throw new ServiceSpecError(cfg.name, `x-baton.tls: expected "acme" or {cert, key}, got ${JSON.stringify(x.tls)}`);
  if (x.redirect_https && !tls) throw new ServiceSpecError(cfg.name, 'x-baton.redirect_https: needs x-baton.tls');
  return {
    domains,
    path: path.length > 1 ? path.replace(/\/+$/, '') : path,
    target,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(tls ? { tls } : {}),
    ...(x.redirect_https ? { redirectHttps: true } : {}),
  };
}

/** The environment variable prefix other services use to reach this one: "my-db" → "MY_DB". */
export function envName(service: string): string {
  return service.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/**
 * The service record for a Compose service. `vipPorts` gives the stable
 * loopback port for each `${target}/${protocol}` (kept across revisions).
 */
export function buildService(
  project: ComposeProject,
  cfg: ServiceConfig,
  opts: { driver: string; vipPorts: Map<string, number>; files?: TaskFileRef[]; registryAuth?: string; prev?: Service; time: string },
): Service {
  const ports: ServicePortSpec[] = targetPorts(cfg).map((p) => {
    const vipPort = opts.vipPorts.get(`${p.target}/${p.protocol}`);
    if (vipPort === undefined) throw new Error(`internal: no vip port for ${cfg.name} ${p.target}/${p.protocol}`);
    return { ...p, vipPort };
  });
  const mode = cfg.deploy?.mode === 'global' ? 'global' : 'replicated';
  const ingress = ingressSpec(cfg);
  const balance = cfg['x-baton']?.balance;
  if (balance !== undefined && balance !== 'round-robin' && balance !== 'least-connections') {
    throw new ServiceSpecError(cfg.name, `x-baton.balance: expected round-robin or least-connections, got ${JSON.stringify(balance)}`);
  }
  const base: Omit<Service, 'revision' | 'createdAt' | 'updatedAt' | 'forceUpdate' | 'stopped' | 'specHash' | 'update' | 'rollback' | 'updateStatus'> = {
    id: `${project.name}/${cfg.name}`,
    project: project.name,
    name: cfg.name,
    mode,
    replicas: mode === 'global' ? 1 : replicas(cfg),
    driver: opts.driver,
    restart: restartPolicy(cfg),
    healthcheck: healthcheck(cfg),
    stopSignal: cfg.stop_signal ?? 'SIGTERM',
    stopGraceMs: ms(cfg.name, 'stop_grace_period', cfg.stop_grace_period, 10_000),
    ports,
    ...(ingress ? { ingress } : {}),
    ...(balance === 'least-connections' ? { balance: 'least-connections' as const } : {}),
    files: opts.files ?? [],
    ...(opts.registryAuth ? { registryAuth: opts.registryAuth } : {}),
    spec: cfg,
    workingDir: project.workingDir,
  };
  const prev = opts.prev;
  const forceUpdate = prev?.forceUpdate ?? 0;
  const hash = specHash({ ...base, forceUpdate });
  // The record changes (new revision) when anything but the replica count does; tasks only when the hash does.
  const changed = !prev || recordKey(prev) !== recordKey(base);
  return {
    ...base,
    revision: prev ? (changed ? prev.revision + 1 : prev.revision) : 1,
    forceUpdate,
    specHash: hash,
    update: updatePolicy(cfg, 'update_config'),
    rollback: updatePolicy(cfg, 'rollback_config'),
    ...(prev?.updateStatus ? { updateStatus: prev.updateStatus } : {}),
    stopped: false,
    createdAt: prev?.createdAt ?? opts.time,
    updatedAt: changed ? opts.time : (prev?.updatedAt ?? opts.time),
  };
}

type HashInput = Pick<Service, 'spec' | 'driver' | 'ports' | 'workingDir'> & { files?: TaskFileRef[]; registryAuth?: string };

// Records stored before secrets existed carry no files; hashing [] as absent keeps their tasks current.
const filesPart = (s: HashInput): { files?: TaskFileRef[]; registryAuth?: string } => ({ ...(s.files && s.files.length > 0 ? { files: s.files } : {}), ...(s.registryAuth ? { registryAuth: s.registryAuth } : {}) });

function recordKey(s: HashInput): string {
  const { scale: _scale, deploy, ...rest } = s.spec;
  const { replicas: _r, ...deployRest } = deploy ?? {};
  return stableJson({ spec: rest, deploy: deployRest, driver: s.driver, ports: s.ports, dir: s.workingDir, ...filesPart(s) });
}

/**
 * What makes a task differ: the spec without replicas, labels of the service
 * and its update/rollback settings (changing how to update is not an update), plus forceUpdate.
 */
export function specHash(s: HashInput & Pick<Service, 'forceUpdate'>): string {
  const { scale: _scale, deploy, ...rest } = s.spec;
  const { replicas: _r, update_config: _u, rollback_config: _rb, labels: _l, ...deployRest } = deploy ?? {};
  const text = stableJson({ spec: rest, deploy: deployRest, driver: s.driver, ports: s.ports, dir: s.workingDir, force: s.forceUpdate, ...filesPart(s) });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Whether the service record differs in anything but the replica count. */
export function specChanged(prev: HashInput, next: HashInput): boolean {
  return recordKey(prev) !== recordKey(next);
}

/** Top-level keys of the Compose service that differ between two revisions, for `service history`. */
export function changedKeys(prev: ServiceConfig | undefined, next: ServiceConfig): string[] {
  if (!prev) return ['(created)'];
  const names = new Set([...Object.keys(prev), ...Object.keys(next)]);
  const out: string[] = [];
  for (const k of [...names].sort()) {
    if (k === 'name') continue;
    const a = (prev as unknown as Record<string, unknown>)[k];
    const b = (next as unknown as Record<string, unknown>)[k];
    if (k === 'deploy') {
      const da = (a ?? {}) as Record<string, unknown>;
      const db = (b ?? {}) as Record<string, unknown>;
      for (const dk of [...new Set([...Object.keys(da), ...Object.keys(db)])].sort()) {
        if (stableJson(da[dk]) !== stableJson(db[dk])) out.push(`deploy.${dk}`);
      }
    } else if (stableJson(a) !== stableJson(b)) out.push(k);
  }
  return out;
}

export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => {
    if (val && typeof val === 'object' && !Array.isArray(val)) {
      return Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return val;
  });
}

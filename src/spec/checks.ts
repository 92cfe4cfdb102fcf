// Checks the schema cannot express: references between services and
// resources, dependency cycles, port numbers, and baton's driver rule.
import type { ComposeProject, ServiceConfig } from './types.js';
import type { Path } from './yaml-source.js';

type Fail = (path: Path, message: string) => void;

const RESTART = /^(no|always|unless-stopped|on-failure(:\d+)?)$/;

export function findCycle(services: Record<string, ServiceConfig>): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  // Iterative depth-first search: a generated chain of thousands of services must not overflow the stack.
  for (const start of Object.keys(services)) {
    if (state.has(start)) continue;
    const iters: Iterator<string>[] = [];
    const enter = (n: string): void => {
      state.set(n, 1);
      stack.push(n);
      iters.push(Object.keys(services[n]?.depends_on ?? {})[Symbol.iterator]());
    };
    enter(start);
    while (iters.length > 0) {
      const next = iters[iters.length - 1].next();
      if (next.done) {
        state.set(stack.pop()!, 2);
        iters.pop();
        continue;
      }
      const d = next.value;
      if (!services[d] || state.get(d) === 2) continue;
      if (state.get(d) === 1) return [...stack.slice(stack.indexOf(d)), d];
      enter(d);
    }
  }
  return undefined;
}

function portNumbers(s: string | undefined): number[] {
  return s === undefined || s === '' ? [] : s.split('-').map(Number);
}

export function checkProject(p: Pick<ComposeProject, 'services' | 'networks' | 'volumes' | 'secrets' | 'configs' | 'models' | 'x-baton'>, fail: Fail): void {
  const xb = p['x-baton'];
  for (const svc of Object.values(p.services)) {
    const at = (...k: (string | number)[]): Path => ['services', svc.name, ...k];
    for (const [dep, d] of Object.entries(svc.depends_on)) {
      if (!p.services[dep]) {
        if (d.required) fail(at('depends_on', dep), `depends on undefined service "${dep}"${Object.keys(p.services).length ? ` (services: ${Object.keys(p.services).slice(0, 10).join(', ')})` : ''}`);
      } else if (d.condition === 'service_healthy' && !p.services[dep].healthcheck && !p.services[dep].image) {
        // An image may bring its own HEALTHCHECK; a service without one cannot.
        fail(at('depends_on', dep), `condition service_healthy, but service "${dep}" has no healthcheck`);
      }
    }
    const driver = svc['x-baton']?.driver ?? xb?.driver;
    // A provider service is run by its provider (as in Compose), not from an image.
    if (!svc.image && !svc.build && svc.provider === undefined && driver !== 'process' && driver !== 'hollow') {
      fail(at(), 'has neither an image nor a build context specified (or x-baton: {driver: process})');
    }
    const r = svc.deploy?.replicas;
    if (r !== undefined && (!Number.isInteger(r) || r < 0)) fail(at('deploy', 'replicas'), `must be a whole number >= 0, got ${r}`);
    if (svc.scale !== undefined && (!Number.isInteger(svc.scale) || svc.scale < 0)) fail(at('scale'), `must be a whole number >= 0, got ${svc.scale}`);
    if (svc.restart !== undefined && !RESTART.test(String(svc.restart))) {
      fail(at('restart'), `invalid value "${svc.restart}": expected no, always, on-failure[:N] or unless-stopped`);
    }
    const seen = new Set<number>();
    svc.ports.forEach((pc, i) => {
      // Ranges expand to several entries; report each written entry once.
      const bad = [pc.target, ...portNumbers(pc.published)].find((n) => !Number.isInteger(n) || n < 1 || n > 65535);
      const oi = originalIndex(svc, i);
      if (bad !== undefined && !seen.has(oi)) {
        fail(at('ports', oi), `invalid port ${bad}: ports must be 1-65535`);
        seen.add(oi);
      }
    });
    const mode = typeof svc.network_mode === 'string' ? svc.network_mode : undefined;
    if (mode !== undefined && Object.keys(svc.networks).length > 0) fail(at('network_mode'), 'network_mode and networks exclude each other: a container joins either its own networks or another network namespace');
    // Another container's network namespace comes with that container's ports; the engine refuses to publish more.
    if (mode && /^(container|service):/.test(mode) && svc.ports.length > 0) fail(at('ports'), `ports cannot be published with network_mode: ${mode}: the container shares that network namespace (publish them there)`);
    for (const n of Object.keys(svc.networks)) {
      if (n !== 'default' && !p.networks[n]) fail(at('networks', n), `uses undefined network "${n}": declare it under the top-level networks:`);
    }
    svc.volumes.forEach((v, i) => {
      if (v.type === 'volume' && v.source && !p.volumes[v.source]) fail(at('volumes', i), `uses undefined volume "${v.source}": declare it under the top-level volumes:`);
    });
    for (const m of Object.keys(isModels(svc.models) ? svc.models : {})) {
      if (!p.models?.[m]) fail(at('models', m), `uses undefined model "${m}": declare it under the top-level models:`);
    }
    for (const kind of ['secrets', 'configs'] as const) {
      svc[kind].forEach((s, i) => {
        if (!p[kind][s.source]) fail(at(kind, i), `uses undefined ${kind.slice(0, -1)} "${s.source}": declare it under the top-level ${kind}:`);
      });
    }
  }
  const cycle = findCycle(p.services);
  if (cycle) fail(['services', cycle[0], 'depends_on'], `dependency cycle: ${cycle.join(' -> ')}`);
}

function isModels(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// Port entries written as ranges expand to several; map back to the written index for positions.
const written = new WeakMap<ServiceConfig, number[]>();
export function recordPortOrigins(svc: ServiceConfig, origins: number[]): void {
  written.set(svc, origins);
}
function originalIndex(svc: ServiceConfig, i: number): number {
  return written.get(svc)?.[i] ?? i;
}

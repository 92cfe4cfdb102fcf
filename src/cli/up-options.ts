// What `up`'s flags change in the project before it is deployed, as docker
// compose applies them: --scale, --pull, --no-deps.
import type { ComposeProject, ServiceConfig } from '../spec/types.js';
import { UserError } from './errors.js';

export interface UpProjectFlags {
  scale?: string[];
  pull?: string;
  deps?: boolean;
}

const PULL = ['always', 'missing', 'never'];

/** `--scale SERVICE=N` entries, checked against the project. */
export function parseScale(p: ComposeProject, entries: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of entries) {
    const m = /^([^=]+)=(\d+)$/.exec(e);
    if (!m) throw new UserError(`--scale: expected SERVICE=NUM, got "${e}"`);
    if (!p.services[m[1]]) throw new UserError(`--scale: no such service: ${m[1]}`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}

/**
 * The project `up` deploys: `named` services (all when none) with, unless --no-deps, what they depend on;
 * replicas from --scale; every image's pull_policy from --pull. With --no-deps the named services do not wait
 * on services left out (as docker compose starts them without their dependencies).
 */
export function upProject(p: ComposeProject, named: string[], flags: UpProjectFlags): ComposeProject {
  if (flags.pull !== undefined && !PULL.includes(flags.pull)) throw new UserError(`--pull: expected always, missing or never, got "${flags.pull}"`);
  const scale = parseScale(p, flags.scale ?? []);
  for (const n of named) if (!p.services[n]) throw new UserError(`no such service: ${n}`);
  const keep = new Set<string>();
  const visit = (n: string): void => {
    if (keep.has(n)) return;
    keep.add(n);
    if (flags.deps !== false) for (const dep of Object.keys(p.services[n].depends_on ?? {})) if (p.services[dep]) visit(dep);
  };
  (named.length > 0 ? named : Object.keys(p.services)).forEach(visit);
  const services: Record<string, ServiceConfig> = {};
  for (const name of keep) {
    let s = p.services[name];
    const n = scale.get(name);
    if (n !== undefined) s = { ...s, scale: n, ...(s.deploy ? { deploy: { ...s.deploy, replicas: n } } : {}) };
    if (flags.pull !== undefined && s.image && !s.build) s = { ...s, pull_policy: flags.pull };
    if (flags.deps === false && s.depends_on) s = { ...s, depends_on: Object.fromEntries(Object.entries(s.depends_on).filter(([d]) => keep.has(d))) };
    services[name] = s;
  }
  return named.length === 0 && flags.deps !== false && scale.size === 0 && flags.pull === undefined ? p : { ...p, services };
}

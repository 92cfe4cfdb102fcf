// `baton config` output, shaped like `docker compose config` so the two can be diffed.
import { stringify } from 'yaml';
import type { ComposeProject } from './types.js';

function sortKeys<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) as T;
}

/** The project as `docker compose config` prints it: services and their keys sorted, internal fields left out. */
export function formatConfig(p: ComposeProject, format: 'yaml' | 'json'): string {
  const { workingDir: _w, files: _f, name, services: _s, networks, volumes, secrets, configs, ...extensions } = p;
  const services = Object.fromEntries(Object.keys(p.services).sort().map((k) => {
    const { name: _n, ...body } = p.services[k];
    const out: Record<string, unknown> = sortKeys(body);
    if (Object.keys(body.environment).length > 0) out.environment = sortKeys(body.environment);
    else delete out.environment;
    for (const empty of ['labels', 'ports', 'expose', 'depends_on', 'profiles', 'volumes', 'secrets', 'configs'] as const) {
      const v = body[empty];
      if ((Array.isArray(v) && v.length === 0) || (v && typeof v === 'object' && Object.keys(v).length === 0)) delete out[empty];
    }
    return [k, out];
  }));
  const out: Record<string, unknown> = { name, services };
  for (const [k, v] of [['networks', networks], ['volumes', volumes], ['secrets', secrets], ['configs', configs]] as const) {
    if (Object.keys(v).length > 0) out[k] = sortKeys(v);
  }
  Object.assign(out, extensions);
  return format === 'json' ? JSON.stringify(out, null, 2) + '\n' : stringify(out, { aliasDuplicateObjects: false, lineWidth: 0 });
}

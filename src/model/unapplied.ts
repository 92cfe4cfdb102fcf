// Compose keys a deploy accepts (they are valid Compose) but baton does not
// apply: said as a warning, as Docker warns of what it discards, rather than
// left out in silence.
import type { ServiceConfig } from '../spec/types.js';

/** Keys the docker driver has nothing to give to (GPUs, Windows-only and legacy-link keys). */
const CONTAINER_KEYS = ['gpus', 'external_links', 'cpu_count', 'cpu_percent', 'cpu_rt_runtime', 'cpu_rt_period', 'credential_spec', 'isolation', 'annotations', 'use_api_socket'];
/** Lifecycle hooks run inside a container (through the engine's exec): other drivers do not run them. */
const HOOK_KEYS = ['post_start', 'pre_stop'];

const present = (v: unknown): boolean => v !== undefined && v !== null && v !== false && !(Array.isArray(v) && v.length === 0);

/** The keys of this service that its driver will not apply, as `key` paths under the service. */
export function unappliedKeys(cfg: ServiceConfig, driver: string): string[] {
  const raw = cfg as unknown as Record<string, unknown>;
  if (driver !== 'docker') return HOOK_KEYS.filter((k) => present(raw[k]));
  const out = CONTAINER_KEYS.filter((k) => present(raw[k]));
  // links: a bare service name is what every container resolves anyway; an alias (SERVICE:ALIAS) is not given.
  if (Array.isArray(raw.links) && raw.links.some((l) => String(l).includes(':'))) out.push('links (aliases)');
  const devices = (cfg.deploy?.resources?.reservations as Record<string, unknown> | undefined)?.devices;
  if (present(devices)) out.push('deploy.resources.reservations.devices');
  return out;
}

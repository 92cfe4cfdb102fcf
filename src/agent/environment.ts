import type { Service, Task, TaskPort } from '../model/types.js';
import { envName } from '../model/service.js';

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

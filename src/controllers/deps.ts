import type { Service, Task } from '../model/types.js';
import { isReady } from '../model/task.js';

/**
 * Why a service may not start yet because of its depends_on, or undefined when
 * it may. `current` holds the newest task of each slot of each service.
 */
export function dependencyGate(svc: Service, services: Map<string, Service>, current: Map<string, Task[]>): string | undefined {
  for (const [depName, dep] of Object.entries(svc.spec.depends_on ?? {})) {
    const depSvc = services.get(`${svc.project}/${depName}`);
    if (!depSvc) {
      if (dep.required === false) continue;
      return `waiting for ${depName}: service not deployed`;
    }
    const tasks = (current.get(depSvc.id) ?? []).filter((t) => t.slot <= depSvc.replicas);
    if (depSvc.replicas === 0 || depSvc.stopped) {
      if (dep.required === false) continue;
      return `waiting for ${depName}: it has no replicas`;
    }
    switch (dep.condition) {
      case 'service_started':
        // A task being stopped (replaced) is not started: its successor is waited for.
        if (tasks.length < depSvc.replicas || !tasks.every((t) => (t.state === 'running' && t.desiredState === 'running') || t.state === 'complete')) {
          return `waiting for ${depName} to start`;
        }
        break;
      case 'service_healthy':
        if (tasks.length < depSvc.replicas || !tasks.every((t) => t.desiredState === 'running' && isReady(t, depSvc))) return `waiting for ${depName} to be healthy`;
        break;
      case 'service_completed_successfully':
        if (tasks.length < depSvc.replicas || !tasks.every((t) => t.state === 'complete' && t.exitCode === 0)) {
          return `waiting for ${depName} to complete successfully`;
        }
        break;
    }
  }
  return undefined;
}

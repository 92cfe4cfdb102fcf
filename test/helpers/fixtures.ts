// Builders for model objects in unit tests: every required field filled, the test overrides what it is about.
import type { NodeInfo, Service, Task, UpdatePolicy } from '../../src/model/types.js';
import type { ServiceConfig } from '../../src/spec/types.js';

export function serviceConfig(name: string, extra: Partial<ServiceConfig> = {}): ServiceConfig {
  return { name, environment: {}, labels: {}, ports: [], expose: [], depends_on: {}, profiles: [], networks: {}, volumes: [], secrets: [], configs: [], ...extra };
}

export const SWARM_UPDATE: UpdatePolicy = { parallelism: 1, delayMs: 0, order: 'stop-first', failureAction: 'pause', monitorMs: 5000, maxFailureRatio: 0 };

export function makeService(name: string, extra: Partial<Service> = {}): Service {
  return {
    id: `p/${name}`, project: 'p', name, revision: 1, mode: 'replicated', replicas: 1, stopped: false, driver: 'process',
    restart: { condition: 'none', delayMs: 0, maxAttempts: 0, windowMs: 0 }, stopSignal: 'SIGTERM', stopGraceMs: 1000, ports: [], files: [],
    spec: serviceConfig(name), workingDir: '/tmp', forceUpdate: 0, specHash: 'h1', update: SWARM_UPDATE, rollback: SWARM_UPDATE,
    createdAt: '', updatedAt: '', ...extra,
  };
}

let seq = 0;
export function makeTask(extra: Partial<Task> = {}): Task {
  return {
    id: `t${seq++}`, project: 'p', service: 'web', slot: 1, revision: 1, driver: 'process', desiredState: 'running', state: 'running',
    health: 'none', restarts: 0, ports: [], createdAt: '', updatedAt: '', ...extra,
  };
}

export function makeNode(id: string, extra: Partial<NodeInfo> = {}): NodeInfo {
  return {
    id, hostname: `host-${id}`, address: '127.0.0.1', role: 'manager', availability: 'active', labels: {}, capacity: { cpus: 2, memoryBytes: 1 << 30 },
    drivers: ['process'], state: 'ready', heartbeatAt: '', ...extra,
  };
}

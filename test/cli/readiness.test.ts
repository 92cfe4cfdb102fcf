import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readiness } from '../../src/cli/readiness.js';
import type { Service, Task } from '../../src/model/types.js';

const svc = (over: Partial<Service>): Service => ({
  id: 'p/web', project: 'p', name: 'web', revision: 1, mode: 'replicated', replicas: 2, stopped: false, driver: 'process',
  restart: { condition: 'any', delayMs: 0, maxAttempts: 0, windowMs: 0 }, stopSignal: 'SIGTERM', stopGraceMs: 1000, ports: [],
  spec: { name: 'web', environment: {}, labels: {}, ports: [], expose: [], depends_on: {}, profiles: [], networks: {}, volumes: [], secrets: [], configs: [] },
  workingDir: '/tmp', forceUpdate: 0, createdAt: '', updatedAt: '', ...over,
});
const task = (over: Partial<Task>): Task => ({
  id: 't', project: 'p', service: 'web', slot: 1, revision: 1, driver: 'process', desiredState: 'running', state: 'running',
  health: 'none', restarts: 0, ports: [], createdAt: '', updatedAt: '', ...over,
});

describe('up --wait readiness', () => {
  it('is done when every slot runs', () => {
    const r = readiness({ project: 'p', revision: 1, services: [svc({})], tasks: [task({}), task({ slot: 2 })] }, new Map());
    assert.equal(r.done, true);
  });
  it('waits for health when there is a healthcheck', () => {
    const hc = { test: { kind: 'shell' as const, command: 'true' }, intervalMs: 1, timeoutMs: 1, retries: 1, startPeriodMs: 0, startIntervalMs: 1 };
    const r = readiness({ project: 'p', revision: 1, services: [svc({ healthcheck: hc })], tasks: [task({ health: 'starting' }), task({ slot: 2, health: 'healthy' })] }, new Map());
    assert.equal(r.done, false);
    assert.equal(r.failure, undefined);
  });
  it('fails on a failed task that will not restart, naming the service', () => {
    const r = readiness({ project: 'p', revision: 1, services: [svc({ restart: { condition: 'none', delayMs: 0, maxAttempts: 0, windowMs: 0 } })], tasks: [task({ state: 'failed', exitCode: 2, error: 'exited with code 2' }), task({ slot: 2 })] }, new Map());
    assert.match(r.failure!, /service "web" \(slot 1\) failed: exited with code 2/);
  });
  it('fails on a crash loop', () => {
    const r = readiness({ project: 'p', revision: 1, services: [svc({})], tasks: [task({ state: 'failed', restarts: 5 }), task({ slot: 2 })] }, new Map([['web#1', 1]]));
    assert.match(r.failure!, /keeps failing/);
  });
  it('a one-shot that exited 0 counts as done', () => {
    const r = readiness({ project: 'p', revision: 1, services: [svc({ replicas: 1, restart: { condition: 'none', delayMs: 0, maxAttempts: 0, windowMs: 0 } })], tasks: [task({ state: 'complete', exitCode: 0 })] }, new Map());
    assert.equal(r.done, true);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readiness } from '../../src/cli/readiness.js';
import type { Service, Task } from '../../src/model/types.js';
import { makeService, makeTask } from '../helpers/fixtures.js';

const svc = (over: Partial<Service>): Service =>
  makeService('web', { replicas: 2, restart: { condition: 'any', delayMs: 0, maxAttempts: 0, windowMs: 0 }, ...over });
const task = (over: Partial<Task>): Task => makeTask({ id: 't', ...over });

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

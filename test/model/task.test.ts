import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideRestart, nextStreak, bySlot, BACKOFF_MAX_MS } from '../../src/model/task.js';
import { restartPolicy, healthcheck, replicas, envName, targetPorts, ServiceSpecError } from '../../src/model/service.js';
import type { RestartPolicy, Task } from '../../src/model/types.js';
import type { ServiceConfig } from '../../src/spec/types.js';
import { makeTask, serviceConfig } from '../helpers/fixtures.js';

const task = (over: Partial<Task>): Task => makeTask({ id: 't1', project: 'p', service: 's', state: 'failed', createdAt: '2026-01-01T00:00:00.000Z', ...over });
const cfg = (over: Partial<ServiceConfig>): ServiceConfig => serviceConfig('web', over);
const any: RestartPolicy = { condition: 'any', delayMs: 0, maxAttempts: 0, windowMs: 0 };

describe('restart decisions', () => {
  it('"no" never restarts; on-failure skips exit 0; any restarts exit 0', () => {
    assert.equal(decideRestart(task({}), { ...any, condition: 'none' }, 0).restart, false);
    assert.equal(decideRestart(task({ state: 'complete', exitCode: 0 }), { ...any, condition: 'on-failure' }, 0).restart, false);
    assert.equal(decideRestart(task({ state: 'failed', exitCode: 1 }), { ...any, condition: 'on-failure' }, 0).restart, true);
    assert.equal(decideRestart(task({ state: 'complete', exitCode: 0 }), any, 0).restart, true);
  });

  it('backs off exponentially from 100ms for quick failures, capped at a minute', () => {
    const fin = '2026-01-01T00:00:01.000Z';
    const at = (streak: number): number => {
      const d = decideRestart(task({ finishedAt: fin, streak }), any, 0);
      assert.ok(d.restart);
      return d.notBefore - Date.parse(fin);
    };
    assert.equal(at(0), 100);
    assert.equal(at(1), 200);
    assert.equal(at(3), 800);
    assert.equal(at(30), BACKOFF_MAX_MS);
  });

  it('the policy delay is the base of the back-off', () => {
    const d = decideRestart(task({ finishedAt: '2026-01-01T00:00:01.000Z', streak: 2 }), { ...any, delayMs: 1000 }, 0);
    assert.ok(d.restart && d.notBefore - Date.parse('2026-01-01T00:00:01.000Z') === 4000);
  });

  it('max_attempts within window', () => {
    const now = Date.parse('2026-01-01T00:10:00.000Z');
    const attempts = ['2026-01-01T00:09:00.000Z', '2026-01-01T00:09:30.000Z'];
    assert.equal(decideRestart(task({ attempts }), { ...any, maxAttempts: 2 }, now).restart, false);
    assert.equal(decideRestart(task({ attempts }), { ...any, maxAttempts: 2, windowMs: 45_000 }, now).restart, true);
  });

  it('a task that ran 10s resets the streak', () => {
    assert.equal(nextStreak(task({ startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:11.000Z', streak: 5 })), 0);
    assert.equal(nextStreak(task({ startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', streak: 5 })), 6);
  });

  it('bySlot orders each slot newest first', () => {
    const m = bySlot([task({ id: 'a', createdAt: '1' }), task({ id: 'b', createdAt: '2' }), task({ id: 'c', slot: 2 })]);
    assert.deepEqual(m.get(1)!.map((t) => t.id), ['b', 'a']);
  });
});

describe('service records from Compose', () => {
  it('maps restart: values and deploy.restart_policy', () => {
    assert.equal(restartPolicy(cfg({})).condition, 'none');
    assert.equal(restartPolicy(cfg({ restart: 'always' })).condition, 'any');
    assert.deepEqual(restartPolicy(cfg({ restart: 'on-failure:4' })), { condition: 'on-failure', delayMs: 0, maxAttempts: 4, windowMs: 0 });
    assert.deepEqual(restartPolicy(cfg({ deploy: { restart_policy: { delay: '2s', window: '1m' } } })), { condition: 'any', delayMs: 2000, maxAttempts: 0, windowMs: 60_000 });
    assert.throws(() => restartPolicy(cfg({ restart: 'sometimes' })), ServiceSpecError);
  });

  it('healthchecks get Docker defaults; disable and NONE turn them off', () => {
    const h = healthcheck(cfg({ healthcheck: { test: ['CMD-SHELL', 'curl -f localhost'] } }))!;
    assert.deepEqual(h.test, { kind: 'shell', command: 'curl -f localhost' });
    assert.equal(h.intervalMs, 30_000);
    assert.equal(h.retries, 3);
    assert.equal(healthcheck(cfg({ healthcheck: { test: ['NONE'] } })), undefined);
    assert.equal(healthcheck(cfg({ healthcheck: { test: ['CMD', 'x'], disable: true } })), undefined);
  });

  it('replicas from deploy or scale; negative refused', () => {
    assert.equal(replicas(cfg({ deploy: { replicas: 3 } })), 3);
    assert.equal(replicas(cfg({ scale: 2 })), 2);
    assert.throws(() => replicas(cfg({ deploy: { replicas: -1 } })), /replicas/);
  });

  it('target ports: published then expose, without duplicates', () => {
    const ports = targetPorts(cfg({ ports: [{ target: 80, published: '8080', protocol: 'tcp', mode: 'ingress' }], expose: ['80', '9000/udp'] }));
    assert.deepEqual(ports, [{ target: 80, protocol: 'tcp', published: 8080, hostIp: undefined }, { target: 9000, protocol: 'udp' }]);
  });

  it('env names', () => {
    assert.equal(envName('my-db.1'), 'MY_DB_1');
  });
});

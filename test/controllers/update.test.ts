import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Reconciler } from '../../src/controllers/index.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { keys } from '../../src/model/keys.js';
import { revisionRecord, withUpdate } from '../../src/model/revision.js';
import { isTerminal } from '../../src/model/task.js';
import type { Service, Task, UpdatePolicy } from '../../src/model/types.js';
import { SWARM_UPDATE, makeNode, makeService } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-upd-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const FAST: UpdatePolicy = { ...SWARM_UPDATE, monitorMs: 0 };

async function setup(s: Service): Promise<{ store: Store; rec: Reconciler }> {
  const store = openSqliteStore(join(dir, `u${n++}.db`));
  await store.commit([
    { type: 'put', kind: 'node', key: 'n1', value: makeNode('n1') },
    { type: 'put', kind: 'service', key: keys.service('p', s.name), value: s },
    { type: 'put', kind: 'revision', key: keys.revision('p', s.name, s.revision), value: revisionRecord(s, undefined, 'deploy', new Date().toISOString()) },
  ]);
  return { store, rec: new Reconciler(store) };
}

const all = async (store: Store): Promise<Task[]> => (await store.list('task')).map((v) => v.value);
/** The tasks that should run, by slot: [slot, specHash, state]. */
const live = async (store: Store): Promise<[number, string | undefined, string][]> =>
  (await all(store))
    .filter((t) => t.desiredState === 'running')
    .sort((a, b) => a.slot - b.slot || a.createdAt.localeCompare(b.createdAt) || a.revision - b.revision || a.restarts - b.restarts)
    .map((t) => [t.slot, t.specHash, t.state]);
const service = async (store: Store): Promise<Service> => (await store.get('service', 'p/web'))!.value;

/**
 * What the agent does between passes: starts what is assigned (running, or as
 * `start` says for tasks of a given hash), and stops what should stop.
 */
async function agent(store: Store, start: (t: Task) => Partial<Task> = () => ({})): Promise<void> {
  const ops = [];
  for (const v of await store.list('task')) {
    const t = v.value;
    let next: Task | undefined;
    if (t.desiredState === 'running' && t.state === 'assigned') next = { ...t, state: 'running', startedAt: new Date(Date.now() - 60_000).toISOString(), ...start(t) };
    else if (t.desiredState === 'shutdown' && !isTerminal(t.state)) next = { ...t, state: 'shutdown', finishedAt: new Date().toISOString() };
    if (next) ops.push({ type: 'put' as const, kind: 'task' as const, key: v.key, value: next, expect: v.version });
  }
  if (ops.length > 0) await store.commit(ops);
}

/** Reconcile and let the agent act until nothing changes (bounded). */
async function converge(store: Store, rec: Reconciler, start?: (t: Task) => Partial<Task>, rounds = 40): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const before = await store.revision();
    await rec.reconcile();
    await agent(store, start);
    if ((await store.revision()) === before) return;
  }
}

/** Changes the service's spec as a deploy does: new revision and hash, an update from the old revision. */
async function deploy(store: Store, change: Partial<Service>): Promise<void> {
  const cur = (await store.get('service', 'p/web'))!;
  const next: Service = withUpdate({ ...cur.value, ...change, revision: cur.value.revision + 1 }, cur.value, new Date().toISOString());
  await store.commit([
    { type: 'put', kind: 'service', key: cur.key, value: next, expect: cur.version },
    { type: 'put', kind: 'revision', key: keys.revision('p', 'web', next.revision), value: revisionRecord(next, cur.value, 'deploy', new Date().toISOString()) },
  ]);
}

describe('rolling update', () => {
  it('stop-first, one at a time: each slot stopped, then replaced, then the next', async () => {
    const { store, rec } = await setup(makeService('web', { replicas: 3, update: FAST }));
    await converge(store, rec);
    await deploy(store, { specHash: 'h2' });
    await rec.reconcile();
    assert.deepEqual(await live(store), [[2, 'h1', 'running'], [3, 'h1', 'running']], 'only slot 1 is stopped');
    await agent(store);
    await rec.reconcile();
    assert.deepEqual(await live(store), [[1, 'h2', 'assigned'], [2, 'h1', 'running'], [3, 'h1', 'running']]);
    await converge(store, rec);
    assert.deepEqual(await live(store), [[1, 'h2', 'running'], [2, 'h2', 'running'], [3, 'h2', 'running']]);
    const s = await service(store);
    assert.equal(s.updateStatus?.state, 'completed');
    assert.equal(s.updateStatus?.message, 'update to revision 2 completed');
    await store.close();
  });

  it('start-first: the new task runs beside the old one, which leaves once its successor is ready', async () => {
    const hc = { test: { kind: 'exec' as const, argv: ['true'] }, intervalMs: 1000, timeoutMs: 1000, retries: 1, startPeriodMs: 0, startIntervalMs: 1000 };
    const { store, rec } = await setup(makeService('web', { replicas: 2, update: { ...FAST, order: 'start-first' }, healthcheck: hc }));
    await converge(store, rec, () => ({ health: 'healthy', healthyAt: new Date(Date.now() - 60_000).toISOString() }));
    await deploy(store, { specHash: 'h2' });
    await rec.reconcile();
    await agent(store, () => ({ health: 'starting' }));
    assert.deepEqual(await live(store), [[1, 'h1', 'running'], [1, 'h2', 'running'], [2, 'h1', 'running']], 'both run in slot 1 until the new one is healthy');
    await rec.reconcile();
    assert.equal((await live(store)).length, 3, 'an unhealthy-yet successor does not push the old task out');
    const fresh = (await all(store)).find((t) => t.specHash === 'h2')!;
    const cur = (await store.get('task', keys.task(fresh)))!;
    await store.commit([{ type: 'put', kind: 'task', key: cur.key, value: { ...cur.value, health: 'healthy', healthyAt: new Date(Date.now() - 60_000).toISOString() }, expect: cur.version }]);
    await rec.reconcile();
    assert.deepEqual(await live(store), [[1, 'h2', 'running'], [2, 'h1', 'running'], [2, 'h2', 'assigned']], 'slot 1 settled (no monitor): slot 2 starts');
    await converge(store, rec, () => ({ health: 'healthy', healthyAt: new Date(Date.now() - 60_000).toISOString() }));
    assert.deepEqual(await live(store), [[1, 'h2', 'running'], [2, 'h2', 'running']]);
    assert.equal((await service(store)).updateStatus?.state, 'completed');
    await store.close();
  });

  it('parallelism 2 replaces two slots at once; 0 replaces all', async () => {
    const { store, rec } = await setup(makeService('web', { replicas: 5, update: { ...FAST, parallelism: 2 } }));
    await converge(store, rec);
    await deploy(store, { specHash: 'h2' });
    await rec.reconcile();
    assert.equal((await live(store)).length, 3);
    await converge(store, rec);
    await deploy(store, { specHash: 'h3', update: { ...FAST, parallelism: 0 } });
    await rec.reconcile();
    assert.equal((await live(store)).length, 0);
    await converge(store, rec);
    assert.deepEqual((await live(store)).map((l) => l[1]), ['h3', 'h3', 'h3', 'h3', 'h3']);
    await store.close();
  });

  it('a new task counts as updated only after monitor: the next slot waits, and the pass says when to look again', async () => {
    const { store, rec } = await setup(makeService('web', { replicas: 2, update: { ...FAST, monitorMs: 30_000 } }));
    await converge(store, rec);
    await deploy(store, { specHash: 'h2' });
    await converge(store, rec, (t) => (t.specHash === 'h2' ? { startedAt: new Date().toISOString() } : {}));
    assert.deepEqual(await live(store), [[1, 'h2', 'running'], [2, 'h1', 'running']]);
    const wake = await rec.reconcile();
    assert.ok(wake !== undefined && wake > Date.now() + 25_000 && wake <= Date.now() + 30_000, `wakes when the monitor ends (${wake})`);
    await store.close();
  });

  it('failure_action rollback: a failing new version returns the service to its previous revision', async () => {
    const { store, rec } = await setup(makeService('web', { replicas: 3, update: { ...FAST, failureAction: 'rollback' }, rollback: { ...FAST, parallelism: 0 } }));
    await converge(store, rec);
    const before = (await all(store)).map((t) => t.id).sort();
    await deploy(store, { specHash: 'h2' });
    await converge(store, rec, (t) => (t.specHash === 'h2' ? { state: 'failed', exitCode: 3, finishedAt: new Date().toISOString() } : {}));
    const s = await service(store);
    assert.equal(s.specHash, 'h1');
    assert.equal(s.revision, 3, 'the rollback is a new revision with the old spec');
    assert.equal(s.updateStatus?.state, 'rollback_completed');
    assert.match(s.updateStatus!.message, /rolled back to revision 1: task of slot 1 failed: exited with code 3/);
    assert.deepEqual((await live(store)).map((l) => l[1]), ['h1', 'h1', 'h1']);
    const running = (await all(store)).filter((t) => t.desiredState === 'running').map((t) => t.id);
    assert.deepEqual(running.filter((id) => before.includes(id)).length, 2, 'slots 2 and 3 never stopped');
    const history = (await store.list('revision', keys.revisionPrefix('p', 'web'))).map((v) => [v.value.revision, v.value.cause, v.value.specHash]);
    assert.deepEqual(history, [[1, 'deploy', 'h1'], [2, 'deploy', 'h2'], [3, 'rollback', 'h1']]);
    await store.close();
  });

  it('failure_action pause: the update stops where it is and says why', async () => {
    const { store, rec } = await setup(makeService('web', { replicas: 3, update: FAST }));
    await converge(store, rec);
    await deploy(store, { specHash: 'h2' });
    await converge(store, rec, (t) => (t.specHash === 'h2' ? { health: 'unhealthy' } : {}));
    const s = await service(store);
    assert.equal(s.updateStatus?.state, 'paused');
    assert.match(s.updateStatus!.message, /update paused: task of slot 1 failed: unhealthy/);
    assert.deepEqual((await live(store)).map((l) => l[1]), ['h2', 'h1', 'h1'], 'slots 2 and 3 are left on the old revision');
    await store.close();
  });

  it('max_failure_ratio tolerates that share of failed tasks, with continue the update goes on', async () => {
    const { store, rec } = await setup(makeService('web', { replicas: 4, update: { ...FAST, failureAction: 'pause', maxFailureRatio: 0.25 } }));
    await converge(store, rec);
    await deploy(store, { specHash: 'h2' });
    let failedOnce = false;
    await converge(store, rec, (t) => {
      if (t.specHash !== 'h2' || failedOnce) return {};
      failedOnce = true;
      return { state: 'failed', exitCode: 1, finishedAt: new Date().toISOString() };
    });
    const s = await service(store);
    assert.equal(s.updateStatus?.state, 'completed', s.updateStatus?.message);
    assert.equal(s.updateStatus?.failed.length, 1);
    await store.close();
  });

  it('delay holds each batch until the previous one settled and the delay passed', async () => {
    const { store, rec } = await setup(makeService('web', { replicas: 2, update: { ...FAST, delayMs: 60_000 } }));
    await converge(store, rec);
    await deploy(store, { specHash: 'h2' });
    await converge(store, rec);
    assert.deepEqual((await live(store)).map((l) => l[1]), ['h2', 'h1'], 'the second batch waits for the delay');
    const s = await service(store);
    assert.ok(s.updateStatus?.settledAt, 'the settle time is recorded, so a restarted daemon keeps the same schedule');
    await store.close();
  });

  it('a reconciler started afresh mid-update (daemon killed) finishes it with each slot updated exactly once', async () => {
    const { store, rec } = await setup(makeService('web', { replicas: 10, update: { ...FAST, parallelism: 3 } }));
    await converge(store, rec);
    await deploy(store, { specHash: 'h2' });
    await rec.reconcile();
    await agent(store);
    await rec.reconcile();
    const fresh = new Reconciler(store);
    await converge(store, fresh);
    const ts = await all(store);
    for (let slot = 1; slot <= 10; slot++) {
      const h2 = ts.filter((t) => t.slot === slot && t.specHash === 'h2');
      assert.equal(h2.length, 1, `slot ${slot} has one task of the new revision`);
      assert.equal(h2[0].desiredState, 'running');
    }
    assert.equal((await service(store)).updateStatus?.state, 'completed');
    await store.close();
  });
});

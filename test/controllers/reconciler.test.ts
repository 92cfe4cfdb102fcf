import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Reconciler } from '../../src/controllers/index.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { keys } from '../../src/model/keys.js';
import type { Service, Task } from '../../src/model/types.js';
import { makeNode, makeService } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-rec-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const NODE = makeNode('n1');
const svc = makeService;

async function setup(...services: Service[]): Promise<{ store: Store; rec: Reconciler }> {
  const store = openSqliteStore(join(dir, `r${n++}.db`));
  await store.commit([
    { type: 'put', kind: 'node', key: 'n1', value: NODE },
    ...services.map((s) => ({ type: 'put' as const, kind: 'service' as const, key: keys.service('p', s.name), value: s })),
  ]);
  return { store, rec: new Reconciler(store) };
}
const tasks = async (store: Store, service?: string): Promise<Task[]> =>
  (await store.list('task', keys.taskPrefix('p', service))).map((v) => v.value).sort((a, b) => a.slot - b.slot || a.createdAt.localeCompare(b.createdAt) || a.revision - b.revision || a.restarts - b.restarts);
/** What an agent would report. */
async function observe(store: Store, t: Task, fields: Partial<Task>): Promise<void> {
  const cur = (await store.get('task', keys.task(t)))!;
  await store.commit([{ type: 'put', kind: 'task', key: cur.key, value: { ...cur.value, ...fields }, expect: cur.version }]);
}
const ago = (ms: number): string => new Date(Date.now() - ms).toISOString();

describe('reconciler', () => {
  it('creates one task per slot and places them', async () => {
    const { store, rec } = await setup(svc('web', { replicas: 3 }));
    await rec.reconcile();
    const ts = await tasks(store);
    assert.deepEqual(ts.map((t) => [t.slot, t.state, t.node]), [[1, 'assigned', 'n1'], [2, 'assigned', 'n1'], [3, 'assigned', 'n1']]);
    await rec.reconcile();
    assert.equal((await tasks(store)).length, 3, 'a second pass changes nothing');
    await store.close();
  });

  it('restarts a failed task in its slot per policy, after the back-off', async () => {
    const { store, rec } = await setup(svc('web', { replicas: 2, restart: { condition: 'on-failure', delayMs: 0, maxAttempts: 0, windowMs: 0 } }));
    await rec.reconcile();
    const [, t2] = await tasks(store);
    await observe(store, t2, { state: 'failed', exitCode: 1, startedAt: ago(2000), finishedAt: ago(1000) });
    await rec.reconcile();
    const slot2 = (await tasks(store)).filter((t) => t.slot === 2);
    assert.equal(slot2.length, 2);
    assert.equal(slot2[0].desiredState, 'shutdown');
    assert.deepEqual([slot2[1].state, slot2[1].restarts, slot2[1].streak], ['assigned', 1, 1]);
    await store.close();
  });

  it('waits for the back-off before restarting, and says when', async () => {
    const { store, rec } = await setup(svc('web', { restart: { condition: 'any', delayMs: 5000, maxAttempts: 0, windowMs: 0 } }));
    await rec.reconcile();
    const [t] = await tasks(store);
    await observe(store, t, { state: 'complete', exitCode: 0, startedAt: ago(100), finishedAt: ago(50) });
    const wake = await rec.reconcile();
    assert.ok(wake && wake > Date.now() + 4000, 'next pass due when the delay is over');
    assert.equal((await tasks(store)).length, 1);
    await store.close();
  });

  it('replaces an orphaned task whatever the restart policy', async () => {
    const { store, rec } = await setup(svc('web'));
    await rec.reconcile();
    const [t] = await tasks(store);
    await observe(store, t, { state: 'orphaned', error: 'lost when the daemon restarted' });
    await rec.reconcile();
    const ts = await tasks(store);
    assert.equal(ts.length, 2);
    assert.equal(ts[1].restarts, 0, 'not counted as a restart');
    await store.close();
  });

  it('scale down stops the highest slots, then forgets them', async () => {
    const { store, rec } = await setup(svc('web', { replicas: 3 }));
    await rec.reconcile();
    for (const t of await tasks(store)) await observe(store, t, { state: 'running' });
    const cur = (await store.get('service', 'p/web'))!;
    await store.commit([{ type: 'put', kind: 'service', key: cur.key, value: { ...cur.value, replicas: 1 }, expect: cur.version }]);
    await rec.reconcile();
    assert.deepEqual((await tasks(store)).map((t) => [t.slot, t.desiredState]), [[1, 'running'], [2, 'shutdown'], [3, 'shutdown']]);
    for (const t of (await tasks(store)).filter((x) => x.slot > 1)) await observe(store, t, { state: 'shutdown' });
    await rec.reconcile();
    assert.deepEqual((await tasks(store)).map((t) => t.slot), [1]);
    await store.close();
  });

  it('holds a service back until its dependency is healthy', async () => {
    const hc = { test: { kind: 'shell' as const, command: 'true' }, intervalMs: 1, timeoutMs: 1, retries: 1, startPeriodMs: 0, startIntervalMs: 1 };
    const app = svc('app');
    app.spec.depends_on = { db: { condition: 'service_healthy', required: true } };
    const { store, rec } = await setup(svc('db', { healthcheck: hc }), app);
    await rec.reconcile();
    let [a] = await tasks(store, 'app');
    assert.equal(a.state, 'pending');
    assert.equal(a.blockedBy, 'waiting for db to be healthy');
    const [db] = await tasks(store, 'db');
    await observe(store, db, { state: 'running', health: 'starting' });
    await rec.reconcile();
    assert.equal((await tasks(store, 'app'))[0].state, 'pending');
    await observe(store, db, { health: 'healthy' });
    await rec.reconcile();
    [a] = await tasks(store, 'app');
    assert.equal(a.blockedBy, undefined);
    assert.equal(a.state, 'assigned');
    await store.close();
  });

  it('a task in another task\'s namespaces is stopped when that one is, and its successor waits for the new one', async () => {
    const side = svc('side', { restart: { condition: 'none', delayMs: 0, maxAttempts: 0, windowMs: 0 } });
    side.spec.depends_on = { web: { condition: 'service_started', required: true, restart: true } };
    const { store, rec } = await setup(svc('web'), side);
    await rec.reconcile();
    const [web] = await tasks(store, 'web');
    await observe(store, web, { state: 'running' });
    await rec.reconcile();
    const [s1] = await tasks(store, 'side');
    await observe(store, s1, { state: 'running', joins: [web.id] });
    await rec.reconcile();
    assert.equal((await tasks(store, 'side'))[0].desiredState, 'running', 'web unchanged: side stays');
    // web is replaced (a restart): while its old task is still stopping, side is stopped...
    await observe(store, web, { desiredState: 'shutdown' });
    await rec.reconcile();
    assert.equal((await tasks(store, 'side'))[0].desiredState, 'shutdown');
    // ...and once side has stopped, its new task waits for web's successor, though the old web still runs.
    await observe(store, s1, { state: 'shutdown' });
    await rec.reconcile();
    const side2 = (await tasks(store, 'side')).find((t) => t.id !== s1.id)!;
    assert.equal(side2.blockedBy, 'waiting for web to start', 'a task being stopped does not count as started');
    await observe(store, web, { state: 'shutdown' });
    await rec.reconcile();
    const web2 = (await tasks(store, 'web')).find((t) => t.id !== web.id)!;
    await observe(store, web2, { state: 'running' });
    await rec.reconcile();
    const after = (await tasks(store, 'side')).find((t) => t.id === side2.id)!;
    assert.equal(after.blockedBy, undefined);
    assert.equal(after.state, 'assigned');
    await store.close();
  });

  it('a service in another\'s network namespace is placed on the node that runs it', async () => {
    const side = svc('side', { replicas: 3 });
    (side.spec as unknown as Record<string, unknown>).network_mode = 'service:web';
    side.spec.depends_on = { web: { condition: 'service_started', required: true, restart: true } };
    const { store, rec } = await setup(svc('web'), side);
    await store.commit([{ type: 'put', kind: 'node', key: 'n2', value: makeNode('n2') }]);
    await rec.reconcile();
    const [web] = await tasks(store, 'web');
    await observe(store, web, { state: 'running' });
    await rec.reconcile();
    const placed = await tasks(store, 'side');
    assert.equal(placed.length, 3);
    assert.deepEqual(placed.map((t) => [t.state, t.node]), placed.map(() => ['assigned', web.node]), `all on ${web.node}, where web runs`);
    await store.close();
  });

  it('a new spec with no update in progress (a restart) replaces tasks: stop first, then start', async () => {
    const { store, rec } = await setup(svc('web'));
    await rec.reconcile();
    const [t] = await tasks(store);
    await observe(store, t, { state: 'running' });
    const cur = (await store.get('service', 'p/web'))!;
    await store.commit([{ type: 'put', kind: 'service', key: cur.key, value: { ...cur.value, revision: 2, specHash: 'h2' }, expect: cur.version }]);
    await rec.reconcile();
    assert.deepEqual((await tasks(store)).map((x) => [x.revision, x.desiredState]), [[1, 'shutdown']]);
    await observe(store, t, { state: 'shutdown' });
    await rec.reconcile();
    assert.deepEqual((await tasks(store)).map((x) => [x.revision, x.desiredState, x.state]), [[1, 'shutdown', 'shutdown'], [2, 'running', 'assigned']]);
    await store.close();
  });

  it('removing a service stops its tasks and then deletes them', async () => {
    const { store, rec } = await setup(svc('web'));
    await rec.reconcile();
    const [t] = await tasks(store);
    await observe(store, t, { state: 'running' });
    await store.commit([{ type: 'delete', kind: 'service', key: 'p/web' }]);
    await rec.reconcile();
    assert.equal((await tasks(store))[0].desiredState, 'shutdown');
    await observe(store, t, { state: 'shutdown' });
    await rec.reconcile();
    assert.deepEqual(await tasks(store), []);
    await store.close();
  });
});

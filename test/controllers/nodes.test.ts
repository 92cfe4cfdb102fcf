// The node monitor and the reconciler's node-aware decisions (global services,
// drain, lost nodes), on the real SQLite store.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeMonitor, Reconciler } from '../../src/controllers/index.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { keys } from '../../src/model/keys.js';
import type { NodeInfo, Service, Task } from '../../src/model/types.js';
import { makeNode, makeService } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-nodes-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function setup(nodes: NodeInfo[], services: Service[]): Promise<Store> {
  const store = openSqliteStore(join(dir, `n${n++}.db`));
  await store.commit([
    ...nodes.map((node) => ({ type: 'put' as const, kind: 'node' as const, key: node.id, value: node })),
    ...services.map((s) => ({ type: 'put' as const, kind: 'service' as const, key: keys.service('p', s.name), value: s })),
  ]);
  return store;
}
const tasks = async (store: Store): Promise<Task[]> => (await store.list('task')).map((v) => v.value).sort((a, b) => a.slot - b.slot || a.createdAt.localeCompare(b.createdAt));
const live = (ts: Task[]): Task[] => ts.filter((t) => t.desiredState === 'running');
async function setNode(store: Store, id: string, fields: Partial<NodeInfo>): Promise<void> {
  const cur = (await store.get('node', id))!;
  await store.commit([{ type: 'put', kind: 'node', key: id, value: { ...cur.value, ...fields }, expect: cur.version }]);
}
/** What agents would report: assigned tasks run, tasks told to stop have stopped. */
async function runAll(store: Store): Promise<void> {
  for (const v of await store.list('task')) {
    if (v.value.state === 'assigned') await store.commit([{ type: 'put', kind: 'task', key: v.key, value: { ...v.value, state: 'running', startedAt: new Date().toISOString() }, expect: v.version }]);
    else if (v.value.desiredState === 'shutdown' && v.value.state === 'running') await store.commit([{ type: 'put', kind: 'task', key: v.key, value: { ...v.value, state: 'shutdown' }, expect: v.version }]);
  }
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('node monitor', () => {
  it('marks a silent node down and orphans its tasks; a heartbeat brings it back', async () => {
    const store = await setup([makeNode('m'), makeNode('w1', { role: 'worker' })], [makeService('web', { replicas: 2 })]);
    const rec = new Reconciler(store);
    await rec.reconcile();
    await runAll(store);
    assert.deepEqual((await tasks(store)).map((t) => t.node).sort(), ['m', 'w1']);
    const mon = new NodeMonitor(store, { downAfterMs: 150, self: 'm' });
    mon.start();
    try {
      await mon.seen('w1');
      await sleep(80);
      await mon.check();
      assert.equal((await store.get('node', 'w1'))!.value.state, 'ready', 'heard from recently');
      await sleep(200);
      await mon.check();
      const w1 = (await store.get('node', 'w1'))!.value;
      assert.equal(w1.state, 'down');
      assert.match(w1.message ?? '', /no heartbeat for/);
      assert.equal((await store.get('node', 'm'))!.value.state, 'ready', 'the manager never judges its own node');
      const orphan = (await tasks(store)).find((t) => t.node === 'w1')!;
      assert.equal(orphan.state, 'orphaned');
      assert.match(orphan.error ?? '', /is down/);
      // The reconciler replaces it on the node that is left.
      await rec.reconcile();
      assert.deepEqual(live(await tasks(store)).map((t) => t.node), ['m', 'm']);
      assert.equal(await mon.seen('w1'), true);
      assert.equal((await store.get('node', 'w1'))!.value.state, 'ready');
      const events = await store.events({});
      assert.ok(events.some((e) => e.type === 'node.down' && e.node === 'w1'));
      assert.ok(events.some((e) => e.type === 'node.ready' && e.node === 'w1'));
      assert.equal(await mon.seen('nosuch'), false, 'an unknown node is not a member');
    } finally {
      mon.stop();
      await store.close();
    }
  });

  it('orphans the tasks of a removed node', async () => {
    const store = await setup([makeNode('m'), makeNode('w1')], [makeService('web', { replicas: 2 })]);
    await new Reconciler(store).reconcile();
    await store.commit([{ type: 'delete', kind: 'node', key: 'w1' }]);
    const mon = new NodeMonitor(store, { downAfterMs: 10_000, self: 'm' });
    await mon.check();
    const t = (await tasks(store)).find((x) => x.node === 'w1')!;
    assert.equal(t.state, 'orphaned');
    assert.match(t.error ?? '', /left the cluster/);
    await store.close();
  });
});

describe('reconciler and nodes', () => {
  it('runs a global service once per eligible node, pinned, following nodes as they come and go', async () => {
    const spec = makeService('agent').spec;
    const svc = makeService('agent', { mode: 'global', spec: { ...spec, deploy: { placement: { constraints: ['node.role==worker'] } } } });
    const store = await setup([makeNode('m'), makeNode('w1', { role: 'worker' }), makeNode('w2', { role: 'worker' })], [svc]);
    const rec = new Reconciler(store);
    await rec.reconcile();
    let ts = live(await tasks(store));
    assert.deepEqual(ts.map((t) => [t.pin, t.node]).sort(), [['w1', 'w1'], ['w2', 'w2']]);
    await runAll(store);
    await rec.reconcile();
    assert.equal(live(await tasks(store)).length, 2, 'stable');
    // A third worker joins: one more task, pinned to it.
    await store.commit([{ type: 'put', kind: 'node', key: 'w3', value: makeNode('w3', { role: 'worker' }) }]);
    await rec.reconcile();
    ts = live(await tasks(store));
    assert.deepEqual(ts.map((t) => t.node).sort(), ['w1', 'w2', 'w3']);
    assert.equal(new Set(ts.map((t) => t.slot)).size, 3, 'a slot per node');
    // Drained: its task stops, and does not go anywhere else.
    await setNode(store, 'w2', { availability: 'drain' });
    await rec.reconcile();
    ts = live(await tasks(store));
    assert.deepEqual(ts.map((t) => t.node).sort(), ['w1', 'w3']);
    await runAll(store);
    // Active again: back, in the same slot it had.
    const slotOfW2 = (await tasks(store)).find((t) => t.pin === 'w2')!.slot;
    await setNode(store, 'w2', { availability: 'active' });
    await rec.reconcile();
    ts = live(await tasks(store));
    assert.deepEqual(ts.map((t) => t.node).sort(), ['w1', 'w2', 'w3']);
    assert.equal(ts.find((t) => t.node === 'w2')!.slot, slotOfW2);
    await store.close();
  });

  it('moves replicas off a drained node start-first: the old task stops once its successor runs', async () => {
    const store = await setup([makeNode('a'), makeNode('b')], [makeService('web', { replicas: 2 })]);
    const rec = new Reconciler(store);
    await rec.reconcile();
    await runAll(store);
    const onA = (await tasks(store)).find((t) => t.node === 'a')!;
    await setNode(store, 'a', { availability: 'drain' });
    await rec.reconcile();
    let ts = await tasks(store);
    const successor = ts.find((t) => t.slot === onA.slot && t.id !== onA.id)!;
    assert.equal(successor.node, 'b');
    assert.equal(ts.find((t) => t.id === onA.id)!.desiredState, 'running', 'still serving until its successor runs');
    await runAll(store);
    await rec.reconcile();
    ts = await tasks(store);
    assert.equal(ts.find((t) => t.id === onA.id)!.desiredState, 'shutdown');
    assert.deepEqual(live(ts).map((t) => t.node), ['b', 'b']);
    await store.close();
  });

  it('moves a task whose node no longer meets the constraint', async () => {
    const spec = makeService('db').spec;
    const svc = makeService('db', { spec: { ...spec, deploy: { placement: { constraints: ['node.labels.disk==ssd'] } } } });
    const store = await setup([makeNode('a', { labels: { disk: 'ssd' } }), makeNode('b')], [svc]);
    const rec = new Reconciler(store);
    await rec.reconcile();
    await runAll(store);
    assert.equal(live(await tasks(store))[0].node, 'a');
    await setNode(store, 'a', { labels: {} });
    await setNode(store, 'b', { labels: { disk: 'ssd' } });
    await rec.reconcile();
    await runAll(store);
    await rec.reconcile();
    assert.deepEqual(live(await tasks(store)).map((t) => t.node), ['b']);
    await store.close();
  });
});

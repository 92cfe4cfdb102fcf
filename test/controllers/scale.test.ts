// What the control plane does to stay cheap with thousands of nodes (see
// bench/hollow-cluster.ts): views cut for many nodes at once, and a node
// monitor that reads every task only when a node went down or left.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeMonitor, Reconciler } from '../../src/controllers/index.js';
import { viewCutter, viewFor } from '../../src/controllers/node-plane.js';
import { openSqliteStore } from '../../src/store/index.js';
import type { ClusterView, Task } from '../../src/model/types.js';
import { makeNode, makeService, makeTask } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-scale-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('viewCutter', () => {
  it('gives every node what viewFor gives it, in the same order', () => {
    const port = [{ target: 80, protocol: 'tcp' as const, hostPort: 8080, hostIp: '127.0.0.1' }];
    const nodes = ['a', 'b', 'c'];
    const tasks: Task[] = [];
    // Every mix of: node (or none), ports, desired state, observed state, health.
    for (const node of [...nodes, undefined]) {
      for (const ports of [[], port]) {
        for (const desiredState of ['running', 'shutdown'] as const) {
          for (const state of ['pending', 'running', 'failed'] as const) {
            for (const health of ['none', 'starting', 'unhealthy'] as const) tasks.push(makeTask({ node, ports, desiredState, state, health }));
          }
        }
      }
    }
    // Shuffled the same way each run, so own and routable tasks interleave.
    const mixed = tasks.map((t, i) => ({ t, k: (i * 7919) % tasks.length })).sort((x, y) => x.k - y.k).map((x) => x.t);
    const view: ClusterView = { revision: 7, tasks: mixed, services: [], projects: [], nodes: nodes.map((id) => makeNode(id)) };
    const cut = viewCutter(view);
    for (const id of [...nodes, 'elsewhere']) {
      const want = viewFor(view, id);
      const got = cut(id);
      assert.deepEqual(got.tasks.map((t) => t.id), want.tasks.map((t) => t.id), `node ${id}`);
      assert.equal(got.revision, 7);
      assert.equal(got.nodes, view.nodes);
    }
  });
});

describe('node monitor at scale', () => {
  it('after a check that read the tasks, still orphans those of a node removed since', async () => {
    const store = openSqliteStore(join(dir, 'left.db'));
    await store.commit([
      { type: 'put', kind: 'node', key: 'm', value: makeNode('m') },
      { type: 'put', kind: 'node', key: 'w1', value: makeNode('w1') },
      { type: 'put', kind: 'service', key: 'p/web', value: makeService('web', { replicas: 2 }) },
    ]);
    await new Reconciler(store).reconcile();
    const mon = new NodeMonitor(store, { downAfterMs: 10_000, self: 'm' });
    await mon.seen('w1');
    await mon.check();
    assert.ok((await store.list('task')).every((v) => v.value.state === 'assigned'), 'nothing to orphan yet');
    await store.commit([{ type: 'delete', kind: 'node', key: 'w1' }]);
    await mon.check();
    const t = (await store.list('task')).map((v) => v.value).find((x) => x.node === 'w1')!;
    assert.equal(t.state, 'orphaned');
    assert.match(t.error ?? '', /left the cluster/);
    await store.close();
  });
});

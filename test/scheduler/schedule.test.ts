import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { schedule, constraintHolds, eligibleNodes, parseCpus, parseMemory, Scheduler } from '../../src/scheduler/index.js';
import type { NodeInfo, Service, Task } from '../../src/model/types.js';
import { makeNode, makeService, makeTask, serviceConfig } from '../helpers/fixtures.js';

const node = (id: string, extra: Partial<NodeInfo> = {}): NodeInfo => makeNode(id, { role: 'worker', ...extra });
const svc = (name: string, deploy: Service['spec']['deploy'] = {}, extra: Partial<Service> = {}): Service =>
  makeService(name, { spec: serviceConfig(name, { deploy }), ...extra });
const task = (service: string, extra: Partial<Task> = {}): Task => makeTask({ service, state: 'pending', ...extra });
const services = (...s: Service[]): Map<string, Service> => new Map(s.map((x) => [x.id, x]));

describe('scheduler', () => {
  it('spreads the replicas of a service over nodes', () => {
    const tasks = [task('web'), task('web'), task('web'), task('web')];
    const r = schedule({ tasks, nodes: [node('a'), node('b')], running: [], services: services(svc('web')) });
    const perNode = r.assignments.reduce<Record<string, number>>((m, a) => ((m[a.node] = (m[a.node] ?? 0) + 1), m), {});
    assert.deepEqual(perNode, { a: 2, b: 2 });
  });

  it('prefers the node with fewer tasks of the service, then fewer tasks', () => {
    const running = [task('web', { node: 'a', state: 'running' }), task('db', { node: 'b', state: 'running' }), task('db', { node: 'b', state: 'running' })];
    const r = schedule({ tasks: [task('web')], nodes: [node('a'), node('b'), node('c')], running, services: services(svc('web')) });
    assert.equal(r.assignments[0].node, 'c');
  });

  it('skips nodes that are down, drained, paused or lack the driver, and says why', () => {
    const nodes = [node('a', { state: 'down' }), node('b', { availability: 'drain' }), node('c', { drivers: ['docker'] })];
    const r = schedule({ tasks: [task('web')], nodes, running: [], services: services(svc('web')) });
    assert.equal(r.assignments.length, 0);
    assert.equal(r.unplaced[0].reason, 'no suitable node (2 nodes not available for new tasks; 1 node lacked the driver)');
  });

  it('honours placement constraints', () => {
    const nodes = [node('a', { labels: { zone: 'x' } }), node('b', { labels: { zone: 'y' }, role: 'manager' })];
    const one = (c: string[]): string | undefined =>
      schedule({ tasks: [task('web')], nodes, running: [], services: services(svc('web', { placement: { constraints: c } })) }).assignments[0]?.node;
    assert.equal(one(['node.labels.zone == y']), 'b');
    assert.equal(one(['node.labels.zone != y']), 'a');
    assert.equal(one(['node.role == manager']), 'b');
    assert.equal(one(['node.hostname == host-a']), 'a');
    assert.equal(one(['node.id == a', 'node.labels.zone == y']), undefined);
    assert.equal(constraintHolds('garbage', nodes[0]), false);
  });

  it('max_replicas_per_node caps a node', () => {
    const tasks = [task('web'), task('web'), task('web')];
    const r = schedule({ tasks, nodes: [node('a')], running: [], services: services(svc('web', { placement: { max_replicas_per_node: 2 } })) });
    assert.equal(r.assignments.length, 2);
    assert.match(r.unplaced[0].reason, /max_replicas_per_node/);
  });

  it('a host-mode published port goes once per node; other services do not block it', () => {
    const hostPort = { target: 80, published: '8080', protocol: 'tcp' as const, mode: 'host' as const };
    const web = svc('web');
    web.spec.ports = [hostPort];
    const running = [task('db', { node: 'a', state: 'running' }), task('web', { node: 'b', state: 'running' })];
    const r = schedule({ tasks: [task('web'), task('web')], nodes: [node('a'), node('b')], running, services: services(web, svc('db')) });
    assert.deepEqual(r.assignments.map((a) => a.node), ['a']);
    assert.match(r.unplaced[0].reason, /host port in use/);
  });

  it('is pure: the same input gives the same placement', () => {
    const input = () => ({ tasks: [task('web', { id: 'x1' }), task('web', { id: 'x2' })], nodes: [node('b'), node('a')], running: [], services: services(svc('web')) });
    assert.deepEqual(schedule(input()), schedule(input()));
  });
});

const reserve = (cpus?: string | number, memory?: string): Service['spec']['deploy'] => ({ resources: { reservations: { cpus, memory } } });
const count = (r: { assignments: { node: string }[] }): Record<string, number> =>
  r.assignments.reduce<Record<string, number>>((m, a) => ((m[a.node] = (m[a.node] ?? 0) + 1), m), {});
const many = (n: number, service: string, extra: Partial<Task> = {}): Task[] => Array.from({ length: n }, () => task(service, extra));

describe('scheduler: resources', () => {
  it('reads cpus and memory as Compose writes them', () => {
    assert.equal(parseCpus('0.5'), 500);
    assert.equal(parseCpus(2), 2000);
    assert.equal(parseCpus('x'), 0);
    assert.equal(parseCpus(undefined), 0);
    assert.equal(parseMemory('512M'), 512 * 2 ** 20);
    assert.equal(parseMemory('1.5g'), 1.5 * 2 ** 30);
    assert.equal(parseMemory('64kb'), 64 * 1024);
    assert.equal(parseMemory('2GiB'), 2 * 2 ** 30);
    assert.equal(parseMemory('100'), 100);
    assert.equal(parseMemory(4096), 4096);
    assert.equal(parseMemory('lots'), 0);
  });

  it('a CPU reservation counts what other services already reserve on the node', () => {
    const nodes = [node('a', { capacity: { cpus: 2, memoryBytes: 2 ** 34 } }), node('b', { capacity: { cpus: 1, memoryBytes: 2 ** 34 } })];
    const running = [task('db', { node: 'a', state: 'running' })];
    const r = schedule({ tasks: many(3, 'web'), nodes, running, services: services(svc('web', reserve('1')), svc('db', reserve(1.5))) });
    // a has 0.5 CPU left, b has 1: one task fits, on b.
    assert.deepEqual(count(r), { b: 1 });
    assert.equal(r.unplaced.length, 2);
    assert.equal(r.unplaced[0].reason, 'no suitable node (2 nodes had insufficient CPU)');
  });

  it('a memory reservation fills nodes to their capacity and no further', () => {
    const nodes = [node('a', { capacity: { cpus: 8, memoryBytes: 2 ** 30 } }), node('b', { capacity: { cpus: 8, memoryBytes: 2 ** 31 } })];
    const r = schedule({ tasks: many(7, 'web'), nodes, running: [], services: services(svc('web', reserve(undefined, '512M'))) });
    assert.deepEqual(count(r), { a: 2, b: 4 });
    assert.equal(r.unplaced[0].reason, 'no suitable node (2 nodes had insufficient memory)');
  });

  it('without reservations a node is never full', () => {
    const r = schedule({ tasks: many(50, 'web'), nodes: [node('a', { capacity: { cpus: 0, memoryBytes: 0 } })], running: [], services: services(svc('web')) });
    assert.equal(r.assignments.length, 50);
  });

  it('says why with the counts of each filter, in filter order', () => {
    const nodes = [
      node('a', { labels: { zone: 'a' } }),
      node('b', { labels: { zone: 'a' } }),
      node('c', { labels: { zone: 'b' }, capacity: { cpus: 2, memoryBytes: 2 ** 28 } }),
    ];
    const r = schedule({ tasks: [task('web')], nodes, running: [], services: services(svc('web', { ...reserve(undefined, '512M'), placement: { constraints: ['node.labels.zone==b'] } })) });
    assert.equal(r.unplaced[0].reason, 'no suitable node (2 nodes did not satisfy the placement constraints; 1 node had insufficient memory)');
    const none = schedule({ tasks: [task('web')], nodes: [], running: [], services: services(svc('web')) });
    assert.equal(none.unplaced[0].reason, 'no suitable node (no nodes)');
    const gone = schedule({ tasks: [task('nope')], nodes, running: [], services: services(svc('web')) });
    assert.equal(gone.unplaced[0].reason, 'its service is gone');
  });
});

describe('scheduler: constraints and eligibility', () => {
  const nodes = [
    node('a', { labels: { zone: 'x' }, engineLabels: { disk: 'ssd' } }),
    node('b', { labels: { zone: 'y' }, role: 'manager' }),
    node('c', { labels: {} }),
  ];
  const where = (c: string[]): string[] => eligibleNodes(svc('web', { placement: { constraints: c } }), nodes).map((n) => n.id);

  it('matches node.id, node.hostname, node.role, node.labels and engine.labels with == and !=', () => {
    assert.deepEqual(where([]), ['a', 'b', 'c']);
    assert.deepEqual(where(['node.id==b']), ['b']);
    assert.deepEqual(where(['node.hostname != host-a']), ['b', 'c']);
    assert.deepEqual(where(['node.role==worker']), ['a', 'c']);
    assert.deepEqual(where(['node.labels.zone==x']), ['a']);
    // A node without the label satisfies != (as Swarm).
    assert.deepEqual(where(['node.labels.zone!=x']), ['b', 'c']);
    assert.deepEqual(where(['engine.labels.disk == ssd']), ['a']);
    assert.deepEqual(where(['node.labels.disk == ssd']), [], 'engine labels are not node labels');
    assert.deepEqual(where(['node.labels.zone!=x', 'node.role==manager']), ['b']);
    assert.deepEqual(where(['node.labels.zone']), []);
  });

  it('eligibleNodes leaves out nodes that are down, paused, drained or lack the driver, but not full ones', () => {
    const list = [
      node('a', { state: 'down' }),
      node('b', { availability: 'pause' }),
      node('c', { availability: 'drain' }),
      node('d', { drivers: ['docker'] }),
      node('e', { capacity: { cpus: 0, memoryBytes: 0 } }),
    ];
    assert.deepEqual(eligibleNodes(svc('web', reserve('1', '1G')), list).map((n) => n.id), ['e']);
  });
});

describe('scheduler: pins (global services)', () => {
  it('a pinned task goes to its node even when another is emptier', () => {
    const running = many(3, 'db', { node: 'a', state: 'running' });
    const r = schedule({ tasks: [task('mon', { pin: 'a' }), task('mon', { pin: 'b' })], nodes: [node('a'), node('b'), node('c')], running, services: services(svc('mon'), svc('db')) });
    assert.deepEqual(r.assignments.map((a) => a.node), ['a', 'b']);
  });

  it('a pinned task still passes the filters, and the reason names only its node', () => {
    const nodes = [node('a', { capacity: { cpus: 1, memoryBytes: 2 ** 30 } }), node('b', { availability: 'drain' }), node('c')];
    const r = schedule({
      tasks: [task('mon', { pin: 'a' }), task('mon', { pin: 'b' }), task('mon', { pin: 'zz' })],
      nodes,
      running: [],
      services: services(svc('mon', reserve(2))),
    });
    assert.equal(r.assignments.length, 0);
    assert.deepEqual(r.unplaced.map((u) => u.reason), [
      'no suitable node (1 node had insufficient CPU)',
      'no suitable node (1 node not available for new tasks)',
      'no suitable node (node zz is not in the cluster)',
    ]);
  });

  it('pinned tasks of a service are placed before its others, which then spread around them', () => {
    const r = schedule({ tasks: [task('web', { id: 'free' }), task('web', { id: 'pinned', pin: 'a' })], nodes: [node('a'), node('b')], running: [], services: services(svc('web')) });
    assert.deepEqual(r.assignments, [{ taskId: 'pinned', node: 'a' }, { taskId: 'free', node: 'b' }]);
  });
});

describe('scheduler: spread preferences', () => {
  it('spreads over the values of a label first; nodes without it are a group of their own', () => {
    // Zone a has three nodes, b one, and one node has no zone: three groups, two tasks each.
    const nodes = [node('a1', { labels: { zone: 'a' } }), node('a2', { labels: { zone: 'a' } }), node('a3', { labels: { zone: 'a' } }), node('b1', { labels: { zone: 'b' } }), node('n1')];
    const r = schedule({ tasks: many(6, 'web'), nodes, running: [], services: services(svc('web', { placement: { preferences: [{ spread: 'node.labels.zone' }] } })) });
    assert.deepEqual(count(r), { a1: 1, a2: 1, b1: 2, n1: 2 });
    // Without the preference, nodes are spread over one by one.
    const flat = schedule({ tasks: many(5, 'web'), nodes, running: [], services: services(svc('web')) });
    assert.deepEqual(count(flat), { a1: 1, a2: 1, a3: 1, b1: 1, n1: 1 });
  });

  it('counts tasks already running in each group', () => {
    const nodes = [node('a1', { labels: { zone: 'a' } }), node('b1', { labels: { zone: 'b' } }), node('b2', { labels: { zone: 'b' } })];
    const running = many(2, 'web', { node: 'a1', state: 'running' });
    const r = schedule({ tasks: many(2, 'web'), nodes, running, services: services(svc('web', { placement: { preferences: [{ spread: 'node.labels.zone' }] } })) });
    assert.deepEqual(count(r), { b1: 1, b2: 1 });
  });

  it('nested preferences spread in order: zone, then rack within the zone', () => {
    const nodes = [
      node('a-r1-1', { labels: { zone: 'a', rack: 'r1' } }),
      node('a-r1-2', { labels: { zone: 'a', rack: 'r1' } }),
      node('a-r2-1', { labels: { zone: 'a', rack: 'r2' } }),
      node('b-r1-1', { labels: { zone: 'b', rack: 'r1' } }),
      node('b-r1-2', { labels: { zone: 'b', rack: 'r1' } }),
    ];
    const prefs = [{ spread: 'node.labels.zone' }, { spread: 'node.labels.rack' }];
    const r = schedule({ tasks: many(4, 'web'), nodes, running: [], services: services(svc('web', { placement: { preferences: prefs } })) });
    // Two per zone; in zone a one per rack, in zone b the two nodes of its one rack.
    assert.deepEqual(count(r), { 'a-r1-1': 1, 'a-r2-1': 1, 'b-r1-1': 1, 'b-r1-2': 1 });
  });

  it('a group whose nodes are all full is skipped', () => {
    const nodes = [node('a1', { labels: { zone: 'a' }, capacity: { cpus: 1, memoryBytes: 2 ** 30 } }), node('b1', { labels: { zone: 'b' } }), node('b2', { labels: { zone: 'b' } })];
    const r = schedule({ tasks: many(3, 'web'), nodes, running: [], services: services(svc('web', { ...reserve(1), placement: { preferences: [{ spread: 'node.labels.zone' }] } })) });
    assert.deepEqual(count(r), { a1: 1, b1: 1, b2: 1 });
  });
});

describe('scheduler: binpack', () => {
  const nodes = [node('a', { capacity: { cpus: 2, memoryBytes: 2 ** 34 } }), node('b', { capacity: { cpus: 2, memoryBytes: 2 ** 34 } }), node('c', { capacity: { cpus: 2, memoryBytes: 2 ** 34 } })];

  it('fills the most loaded node that fits before the next (strategy on the input)', () => {
    const running = [task('db', { node: 'b', state: 'running' })];
    const r = schedule({ tasks: many(5, 'web'), nodes, running, services: services(svc('web', reserve('0.5')), svc('db', reserve('0.5'))), strategy: 'binpack' });
    assert.deepEqual(r.assignments.map((a) => a.node), ['b', 'b', 'b', 'a', 'a']);
  });

  it('a service chooses it with x-baton: {placement: binpack}, and spread with {placement: spread}', () => {
    const packed = svc('web', reserve('1'));
    packed.spec['x-baton'] = { placement: 'binpack' };
    const r = schedule({ tasks: many(4, 'web'), nodes, running: [], services: services(packed) });
    assert.deepEqual(r.assignments.map((a) => a.node), ['a', 'a', 'b', 'b']);
    const spread = svc('web');
    spread.spec['x-baton'] = { placement: 'spread' };
    const s = schedule({ tasks: many(3, 'web'), nodes, running: [], services: services(spread), strategy: 'binpack' });
    assert.deepEqual(count(s), { a: 1, b: 1, c: 1 });
  });

  it('respects max_replicas_per_node and host ports while packing', () => {
    const capped = svc('web', { placement: { max_replicas_per_node: 2 } });
    const r = schedule({ tasks: many(5, 'web'), nodes, running: [], services: services(capped), strategy: 'binpack' });
    assert.deepEqual(r.assignments.map((a) => a.node), ['a', 'a', 'b', 'b', 'c']);
    const ported = svc('api');
    ported.spec.ports = [{ target: 80, published: '9000-9001', protocol: 'tcp', mode: 'host' }];
    const other = svc('other');
    other.spec.ports = [{ target: 80, published: '9001', protocol: 'tcp', mode: 'host' }];
    const p = schedule({ tasks: many(3, 'api'), nodes, running: [task('other', { node: 'a', state: 'running' })], services: services(ported, other), strategy: 'binpack' });
    assert.deepEqual(p.assignments.map((a) => a.node), ['b', 'c']);
    assert.equal(p.unplaced[0].reason, 'no suitable node (3 nodes had the host port in use)');
  });
});

describe('scheduler: determinism and incremental use', () => {
  it('the order of nodes in the input does not matter; ties go to the smaller id', () => {
    const nodes = ['d', 'b', 'a', 'c'].map((id) => node(id));
    const run = (list: NodeInfo[]) => schedule({ tasks: many(6, 'web').map((t, i) => ({ ...t, id: `x${i}` })), nodes: list, running: [], services: services(svc('web')) });
    assert.deepEqual(run(nodes), run([...nodes].reverse()));
    assert.deepEqual(run(nodes).assignments.map((a) => a.node), ['a', 'b', 'c', 'd', 'a', 'b']);
  });

  it('a Scheduler fed batches places as one schedule() over everything', () => {
    const nodes = Array.from({ length: 20 }, (_, i) => node(`n${String(i).padStart(2, '0')}`, { labels: { zone: 'abc'[i % 3] }, capacity: { cpus: 4, memoryBytes: 2 ** 32 } }));
    const svcs = services(
      svc('web', { ...reserve('0.25', '128M'), placement: { preferences: [{ spread: 'node.labels.zone' }] } }),
      svc('db', { ...reserve('1'), placement: { constraints: ['node.labels.zone==b'] } }),
    );
    const batches = [many(30, 'web'), many(10, 'db'), many(30, 'web'), many(20, 'db')];
    const s = new Scheduler(nodes, svcs);
    const placed: Task[] = [];
    for (const b of batches) {
      const one = schedule({ tasks: b, nodes, running: placed, services: svcs });
      const inc = s.place(b);
      assert.deepEqual(inc, one);
      const byId = new Map(b.map((t) => [t.id, t]));
      for (const a of one.assignments) placed.push({ ...byId.get(a.taskId)!, node: a.node });
    }
  });

  it('decides 100,000 tasks over 2,000 nodes quickly (no cost per task already placed)', () => {
    const nodes = Array.from({ length: 2000 }, (_, i) => node(`n${i}`, { labels: { zone: 'abcde'[i % 5] }, capacity: { cpus: 64, memoryBytes: 2 ** 37 } }));
    const list: Service[] = [];
    for (let i = 0; i < 100; i++) {
      list.push(svc(`s${i}`, { ...reserve('0.1', '64M'), placement: i % 4 === 0 ? { constraints: [`node.labels.zone==${'abcde'[i % 5]}`] } : {} }));
    }
    const tasks = list.flatMap((s) => many(1000, s.name));
    const t0 = performance.now();
    const r = schedule({ tasks, nodes, running: [], services: services(...list) });
    const ms = performance.now() - t0;
    assert.equal(r.assignments.length, 100_000);
    assert.ok(ms < 10_000, `took ${ms.toFixed(0)} ms`);
  });
});

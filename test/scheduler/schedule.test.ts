import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { schedule, constraintHolds } from '../../src/scheduler/index.js';
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

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { schedule, type ScheduleInput } from '../../src/scheduler/index.js';
import type { NodeInfo, Service, Task } from '../../src/model/types.js';
import type { DeployConfig } from '../../src/spec/types.js';
import { makeNode, makeService, makeTask, serviceConfig } from '../helpers/fixtures.js';
import { referenceSchedule } from './reference.js';

/** mulberry32: a small seeded generator, so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomInput(seed: number): ScheduleInput {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const maybe = (p: number): boolean => r() < p;

  const nodes: NodeInfo[] = [];
  const nodeCount = 1 + Math.floor(r() * 7);
  for (let i = 0; i < nodeCount; i++) {
    const labels: Record<string, string> = {};
    const zone = pick(['a', 'b', 'c', undefined]);
    const rack = pick(['r1', 'r2', undefined]);
    if (zone) labels.zone = zone;
    const engineLabels: Record<string, string> = {};
    if (rack) engineLabels.rack = rack;
    nodes.push(
      makeNode(`n${i}`, {
        role: pick(['manager', 'worker', 'worker'] as const),
        state: maybe(0.9) ? 'ready' : 'down',
        availability: maybe(0.85) ? 'active' : pick(['pause', 'drain'] as const),
        drivers: maybe(0.9) ? ['process'] : ['docker'],
        labels,
        engineLabels,
        capacity: { cpus: pick([1, 2, 4]), memoryBytes: pick([1, 2, 4]) * 2 ** 30 },
      }),
    );
  }
  // Input order must not matter: shuffle.
  nodes.sort(() => r() - 0.5);

  const services = new Map<string, Service>();
  const serviceCount = 1 + Math.floor(r() * 4);
  for (let i = 0; i < serviceCount; i++) {
    const name = `s${i}`;
    const constraints = ['node.labels.zone==a', 'node.labels.zone != b', 'node.role==worker', 'node.hostname!=host-n1', 'engine.labels.rack==r1', 'garbage'].filter(() => maybe(0.12));
    const deploy: DeployConfig = {
      placement: {
        constraints,
        preferences: pick([[], [], ['node.labels.zone'], ['node.labels.zone', 'node.labels.rack'], ['node.labels.rack'], ['node.hostname']]).map((spread) => ({ spread })),
        max_replicas_per_node: pick([undefined, undefined, 1, 2]),
      },
      resources: { reservations: { cpus: pick([undefined, undefined, '0.5', 1, '1.5']), memory: pick([undefined, undefined, '512M', '1G', '300m']) } },
    };
    const spec = serviceConfig(name, { deploy });
    if (maybe(0.2)) spec.ports = [{ target: 80, published: pick(['8080', '8080-8081', '8081']), protocol: 'tcp', mode: 'host' }];
    if (maybe(0.2)) spec['x-baton'] = { placement: pick(['binpack', 'spread']) };
    const svc = makeService(name, { spec, driver: maybe(0.95) ? 'process' : 'docker' });
    services.set(svc.id, svc);
  }
  const names = [...services.values()].map((s) => s.name);

  const running: Task[] = [];
  const runningCount = Math.floor(r() * 9);
  for (let i = 0; i < runningCount; i++) {
    running.push(makeTask({ id: `r${i}`, service: maybe(0.9) ? pick(names) : 'gone', node: maybe(0.9) ? pick(nodes).id : 'elsewhere', state: 'running' }));
  }
  const tasks: Task[] = [];
  const taskCount = Math.floor(r() * 13);
  for (let i = 0; i < taskCount; i++) {
    const pin = maybe(0.2) ? (maybe(0.9) ? pick(nodes).id : 'nowhere') : undefined;
    tasks.push(makeTask({ id: `p${i}`, service: maybe(0.95) ? pick(names) : 'gone', state: 'pending', ...(pin ? { pin } : {}) }));
  }
  return { tasks, nodes, running, services, strategy: pick([undefined, 'spread', 'binpack'] as const) };
}

describe('scheduler against a brute-force reference', () => {
  it('places exactly as the reference on 2,000 random small clusters (seeded)', () => {
    let placedSome = 0;
    let unplacedSome = 0;
    for (let seed = 1; seed <= 2000; seed++) {
      const input = randomInput(seed);
      const got = schedule(input);
      const want = referenceSchedule(input);
      assert.deepEqual(got, want, `seed ${seed}`);
      if (got.assignments.length > 0) placedSome++;
      if (got.unplaced.some((u) => u.reason.startsWith('no suitable node ('))) unplacedSome++;
    }
    // The generator must exercise both outcomes, or the comparison proves little.
    assert.ok(placedSome > 1000, `placed in ${placedSome} cases`);
    assert.ok(unplacedSome > 200, `unplaced in ${unplacedSome} cases`);
  });
});

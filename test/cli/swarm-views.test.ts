// The pure parts of `stack` and `service`: names, ids, REPLICAS, task lines,
// filters, --format rendering and Docker's way of saying durations.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ellipsis, goDuration, humanDuration, renderRows } from '../../src/cli/format.js';
import { naturalCompare, publishedPorts, replicas, serviceFilter, serviceId, serviceRow, taskFilter, taskRows } from '../../src/cli/commands/stack.js';
import { inspectView, nameCandidates, prettyInspect } from '../../src/cli/commands/service.js';
import { UserError } from '../../src/cli/errors.js';
import { makeNode, makeService, makeTask, serviceConfig } from '../helpers/fixtures.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const before = (ms: number): string => new Date(NOW - ms).toISOString();

describe('docker-style durations', () => {
  it('words them as docker does', () => {
    assert.equal(humanDuration(300), 'less than a second');
    assert.equal(humanDuration(1000), '1 second');
    assert.equal(humanDuration(42_000), '42 seconds');
    assert.equal(humanDuration(90_000), 'about a minute');
    assert.equal(humanDuration(5 * 60_000), '5 minutes');
    assert.equal(humanDuration(65 * 60_000), 'about an hour');
    assert.equal(humanDuration(5 * 3_600_000), '5 hours');
    assert.equal(humanDuration(3 * 86_400_000), '3 days');
    assert.equal(humanDuration(21 * 86_400_000), '3 weeks');
    assert.equal(humanDuration(90 * 86_400_000), '3 months');
    assert.equal(humanDuration(800 * 86_400_000), '2 years');
  });
  it('Go durations for policies', () => {
    assert.equal(goDuration(0), '0s');
    assert.equal(goDuration(250), '250ms');
    assert.equal(goDuration(5000), '5s');
    assert.equal(goDuration(90_000), '1m30s');
    assert.equal(goDuration(3_600_000), '1h0m0s');
  });
  it('ellipsis cuts to the length with a mark', () => {
    assert.equal(ellipsis('short', 30), 'short');
    assert.equal(ellipsis('abcdefghij', 5), 'abcd…');
  });
});

describe('--format', () => {
  const cols = [{ field: 'Name', header: 'NAME' }, { field: 'Services', header: 'SERVICES' }];
  const rows = [{ Name: 'a', Services: '2' }, { Name: 'bb', Services: '10' }];
  it('table by default, json as one object per line', () => {
    assert.equal(renderRows(undefined, cols, rows), 'NAME   SERVICES\na      2\nbb     10\n');
    assert.deepEqual(renderRows('json', cols, rows).trim().split('\n').map((l) => JSON.parse(l) as unknown), rows);
  });
  it('templates, with and without table headers', () => {
    assert.equal(renderRows('{{.Name}}: {{.Services}}', cols, rows), 'a: 2\nbb: 10\n');
    assert.equal(renderRows('table {{.Services}}\\t{{.Name}}', cols, rows), 'SERVICES   NAME\n2          a\n10         bb\n');
    assert.equal(renderRows('{{json .}}', cols, rows.slice(0, 1)), '{"Name":"a","Services":"2"}\n');
  });
  it('an unknown field is the user\'s mistake, naming the fields there are', () => {
    assert.throws(() => renderRows('{{.Nope}}', cols, rows), (e: unknown) => e instanceof UserError && /\{\{\.Name\}\}/.test(e.message));
  });
});

describe('service names and ids', () => {
  it('splits STACK_SERVICE at each "_" that leaves a project that exists', () => {
    assert.deepEqual(nameCandidates('shop_web', ['shop', 'other']), [{ project: 'shop', service: 'web' }]);
    assert.deepEqual(nameCandidates('my_shop_db_main', ['my', 'my_shop']), [
      { project: 'my', service: 'shop_db_main' },
      { project: 'my_shop', service: 'db_main' },
    ]);
    assert.deepEqual(nameCandidates('web', ['web']), []);
    assert.deepEqual(nameCandidates('shop_', ['shop']), []);
  });
  it('ids are stable for a service and differ when it is made again', () => {
    const a = makeService('web', { id: 'p/web', createdAt: '2026-01-01T00:00:00Z' });
    assert.equal(serviceId(a), serviceId(makeService('web', { id: 'p/web', createdAt: a.createdAt, replicas: 5 })));
    assert.notEqual(serviceId(a), serviceId({ ...a, createdAt: '2026-01-02T00:00:00Z' }));
    assert.match(serviceId(a), /^[0-9a-f]{25}$/);
  });
  it('natural order puts web.2 before web.10', () => {
    assert.deepEqual(['web.10', 'web.2', 'api.1'].sort(naturalCompare), ['api.1', 'web.2', 'web.10']);
  });
});

describe('service lines', () => {
  const web = makeService('web', {
    replicas: 3,
    spec: serviceConfig('web', { image: 'nginx:alpine' }),
    ports: [{ target: 80, protocol: 'tcp', published: 8080, vipPort: 40000 }, { target: 9000, protocol: 'tcp', vipPort: 40001 }],
  });
  it('REPLICAS counts running tasks (healthy ones, with a healthcheck) against the wanted number', () => {
    const tasks = [
      makeTask({ slot: 1 }),
      makeTask({ slot: 2, health: 'starting' }),
      makeTask({ slot: 3, state: 'failed' }),
      makeTask({ slot: 1, desiredState: 'shutdown', state: 'running' }),
      makeTask({ service: 'other' }),
    ];
    assert.equal(replicas(web, tasks), '1/3');
    assert.equal(replicas({ ...web, stopped: true }, []), '0/0');
    const global = makeService('agent', { mode: 'global' });
    assert.equal(replicas(global, [makeTask({ service: 'agent', slot: 1 }), makeTask({ service: 'agent', slot: 2, state: 'pending' })]), '1/2');
  });
  it('shows only published ports, as *:PUBLISHED->TARGET/PROTO', () => {
    assert.equal(publishedPorts(web), '*:8080->80/tcp');
    const row = serviceRow(web, []);
    assert.deepEqual({ ...row, ID: row.ID.length }, { ID: 12, Name: 'p_web', Mode: 'replicated', Replicas: '0/3', Image: 'nginx:alpine', Ports: '*:8080->80/tcp' });
  });
  it('filters by name prefix, id prefix and mode', () => {
    assert.equal(serviceFilter(['name=p_w'])(web), true);
    assert.equal(serviceFilter(['name=q_'])(web), false);
    assert.equal(serviceFilter([`id=${serviceId(web).slice(0, 4)}`, 'mode=replicated'])(web), true);
    assert.equal(serviceFilter(['mode=global'])(web), false);
    assert.throws(() => serviceFilter(['label=x']), UserError);
  });
  it('inspect is docker-shaped, durations in nanoseconds', () => {
    const v = inspectView(web) as { Spec: { Name: string; Mode: { Replicated: { Replicas: number } }; UpdateConfig: { Monitor: number }; TaskTemplate: { ContainerSpec: { Image: string } } } };
    assert.equal(v.Spec.Name, 'p_web');
    assert.equal(v.Spec.Mode.Replicated.Replicas, 3);
    assert.equal(v.Spec.UpdateConfig.Monitor, 5_000_000_000);
    assert.equal(v.Spec.TaskTemplate.ContainerSpec.Image, 'nginx:alpine');
    const pretty = prettyInspect(web);
    assert.match(pretty, /^Name:\s+p_web$/m);
    assert.match(pretty, /^ Replicas:\s+3$/m);
    assert.match(pretty, /^ PublishedPort = 8080$/m);
  });
});

describe('task lines', () => {
  const web = makeService('web', { replicas: 2, spec: serviceConfig('web', { image: 'img:1' }) });
  const node = makeNode('n1');
  const old = makeTask({ id: 'aaaaaaaaaaaa', slot: 1, state: 'failed', desiredState: 'shutdown', error: 'exited with code 1 after a very long time of running', createdAt: before(60_000), finishedAt: before(30_000), node: 'n1' });
  const cur = makeTask({ id: 'bbbbbbbbbbbb', slot: 1, createdAt: before(20_000), startedAt: before(5 * 60_000), node: 'n1', ports: [{ target: 80, protocol: 'tcp', hostPort: 31000, hostIp: '127.0.0.1' }] });
  const two = makeTask({ id: 'cccccccccccc', slot: 2, state: 'pending', createdAt: before(1000), updatedAt: before(1000), message: 'no node fits' });
  const rows = (opts = {}): Record<string, string>[] => taskRows([web], [two, old, cur], [node], { now: NOW, indent: true, ...opts }).map((r) => r.row);

  it('groups a slot\'s tasks newest first, the older ones indented', () => {
    assert.deepEqual(rows().map((r) => r.Name), ['p_web.1', ' \\_ p_web.1', 'p_web.2']);
    assert.deepEqual(taskRows([web], [two, old, cur], [node], { now: NOW }).map((r) => r.row.Name), ['p_web.1', 'p_web.1', 'p_web.2']);
  });
  it('says states as docker does, with node hostnames and task ports', () => {
    const [r1, r0, r2] = rows();
    assert.deepEqual(r1, { ID: 'bbbbbbbbbbbb', Name: 'p_web.1', Image: 'img:1', Node: 'host-n1', DesiredState: 'Running', CurrentState: 'Running 5 minutes ago', Error: '', Ports: '127.0.0.1:31000->80/tcp' });
    assert.equal(r0.CurrentState, 'Failed 30 seconds ago');
    assert.equal(r0.DesiredState, 'Shutdown');
    assert.equal(r0.Error, '"exited with code 1 after a ve…"');
    assert.equal(r2.CurrentState, 'Pending 1 second ago');
    assert.equal(r2.Error, '"no node fits"');
    assert.equal(r2.Node, '');
  });
  it('--no-trunc and --no-resolve', () => {
    const r0 = rows({ noTrunc: true, noResolve: true })[1];
    assert.equal(r0.Error, '"exited with code 1 after a very long time of running"');
    assert.equal(r0.Node, 'n1');
  });
  it('filters by desired state, node and name', () => {
    const all = taskRows([web], [two, old, cur], [node], { now: NOW });
    assert.deepEqual(all.filter(taskFilter(['desired-state=running'])).map((r) => r.task.id), ['bbbbbbbbbbbb', 'cccccccccccc']);
    assert.deepEqual(all.filter(taskFilter(['desired-state=shutdown'])).map((r) => r.task.id), ['aaaaaaaaaaaa']);
    assert.deepEqual(all.filter(taskFilter(['node=host-n1', 'desired-state=running'])).map((r) => r.task.id), ['bbbbbbbbbbbb']);
    assert.deepEqual(all.filter(taskFilter(['name=web.2'])).map((r) => r.task.id), ['cccccccccccc']);
    assert.throws(() => taskFilter(['desired-state=maybe']), UserError);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostsEntries, serviceNameAddresses, taskEnvironment, taskArgv } from '../../src/agent/environment.js';
import { meshRoutes, nodePortRoutes } from '../../src/agent/endpoints.js';
import type { Task } from '../../src/model/types.js';
import { makeNode, makeService, makeTask } from '../helpers/fixtures.js';

const svc = makeService;
const task = (over: Partial<Task>): Task => makeTask({ id: 't', ...over });

describe('task environment', () => {
  it('holds host basics, the service env, ports and the other services\' addresses', () => {
    const web = svc('web', { ports: [{ target: 8080, protocol: 'tcp', published: 18080, vipPort: 40001 }] });
    web.spec.environment = { A: '1', FROM_HOST: null, UNSET: null };
    const db = svc('my-db', { ports: [{ target: 5432, protocol: 'tcp', vipPort: 40002 }] });
    const env = taskEnvironment(task({}), web, [{ target: 8080, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 50000 }], [web, db], {
      PATH: '/bin', SECRET_OF_HOST: 'x', FROM_HOST: 'h',
    });
    assert.equal(env.PATH, '/bin');
    assert.equal(env.SECRET_OF_HOST, undefined, 'the daemon environment does not leak');
    assert.equal(env.A, '1');
    assert.equal(env.FROM_HOST, 'h', 'a bare KEY takes the host value, as Compose does');
    assert.ok(!('UNSET' in env));
    assert.equal(env.PORT, '50000');
    assert.equal(env.BATON_PORT_8080, '50000');
    assert.equal(env.MY_DB_HOST, '127.0.0.1');
    assert.equal(env.MY_DB_PORT, '40002');
    assert.equal(env.WEB_PORT_8080, '40001');
    assert.equal(env.BATON_SLOT, '1');
  });

  it('argv is entrypoint then command', () => {
    const s = svc('x');
    s.spec.entrypoint = ['node'];
    s.spec.command = ['app.js', '--x'];
    assert.deepEqual(taskArgv(s), ['node', 'app.js', '--x']);
  });
});

describe('mesh routes from endpoints', () => {
  it('balances over running, routable tasks only; publishes where asked', () => {
    const web = svc('web', { ports: [{ target: 80, protocol: 'tcp', published: 8080, vipPort: 40001 }] });
    const p = (port: number) => [{ target: 80, protocol: 'tcp' as const, hostIp: '127.0.0.1', hostPort: port }];
    const routes = meshRoutes(new Map([[web.id, web]]), [
      task({ id: 'a', ports: p(1) }),
      task({ id: 'b', ports: p(2), health: 'unhealthy' }),
      task({ id: 'c', ports: p(3), health: 'starting' }),
      task({ id: 'd', ports: p(4), state: 'failed' }),
      task({ id: 'e', ports: p(5), desiredState: 'shutdown' }),
      task({ id: 'f', ports: p(6), health: 'healthy' }),
    ]);
    assert.equal(routes.length, 2);
    assert.deepEqual(routes[0].listen, { host: '127.0.0.1', port: 40001 });
    assert.deepEqual(routes[1].listen, { host: '0.0.0.0', port: 8080 });
    assert.deepEqual(routes[0].backends.map((b) => b.id), ['a', 'f']);
  });
});

describe('mesh routes in a cluster', () => {
  const p = (port: number, hostIp = '127.0.0.1') => [{ target: 80, protocol: 'tcp' as const, hostIp, hostPort: port }];
  const nodes = new Map([
    ['n1', makeNode('n1', { address: '10.0.0.1' })],
    ['n2', makeNode('n2', { address: '10.0.0.2' })],
    ['n3', makeNode('n3', { address: '10.0.0.3', state: 'down' })],
  ]);

  it('reaches tasks on other nodes through their node address, never on a down node', () => {
    const web = svc('web', { ports: [{ target: 80, protocol: 'tcp', published: 8080, vipPort: 40001 }] });
    const routes = meshRoutes(new Map([[web.id, web]]), [
      task({ id: 'here', node: 'n1', ports: p(1) }),
      task({ id: 'there', node: 'n2', ports: p(2) }),
      task({ id: 'lost', node: 'n3', ports: p(3) }),
      task({ id: 'bound', node: 'n2', ports: p(4, '10.0.0.22') }),
    ], { self: 'n1', nodes });
    assert.deepEqual(routes[1].backends.map((b) => `${b.id}@${b.host}:${b.port}`), ['here@127.0.0.1:1', 'there@10.0.0.2:2', 'bound@10.0.0.22:4']);
  });

  it('publishes a host-mode port only where the service runs, to its local tasks; balance passes through', () => {
    const web = svc('web', { balance: 'least-connections', ports: [{ target: 80, protocol: 'tcp', published: 8080, mode: 'host', vipPort: 40001 }] });
    const ts = [task({ id: 'a', node: 'n1', ports: p(1) }), task({ id: 'b', node: 'n2', ports: p(2) })];
    const onN1 = meshRoutes(new Map([[web.id, web]]), ts, { self: 'n1', nodes });
    assert.deepEqual(onN1.map((r) => r.listen.port), [40001, 8080]);
    assert.deepEqual(onN1[1].backends.map((b) => b.id), ['a']);
    assert.equal(onN1[1].balance, 'least-connections');
    assert.equal(onN1[0].backends.length, 2, 'the service address still balances over every node');
    const onN3 = meshRoutes(new Map([[web.id, web]]), ts, { self: 'n3', nodes });
    assert.deepEqual(onN3.map((r) => r.listen.port), [40001], 'no task here: the host port is not published');
  });

  it('reaches a container on another node through that node\'s port for it, which that node forwards to the container, for the cluster only', () => {
    const web = svc('web', { ports: [{ target: 80, protocol: 'tcp', published: 8080, vipPort: 40001 }] });
    const c = (nodePort: number, ip: string) => [{ target: 80, protocol: 'tcp' as const, hostIp: ip, hostPort: 80, nodePort }];
    const ts = [task({ id: 'mine', node: 'n1', ports: c(41000, '172.18.0.2') }), task({ id: 'theirs', node: 'n2', ports: c(41001, '172.18.0.2') })];
    const onN1 = meshRoutes(new Map([[web.id, web]]), ts, { self: 'n1', nodes });
    const published = onN1.find((r) => r.listen.port === 8080)!;
    assert.deepEqual(published.backends.map((b) => `${b.id}@${b.host}:${b.port}`), ['mine@172.18.0.2:80', 'theirs@10.0.0.2:41001'], 'the same container address on two nodes is two containers');
    const forwards = nodePortRoutes(ts, { self: 'n1', nodes });
    assert.equal(forwards.length, 1, 'only this node\'s own containers');
    assert.deepEqual(forwards[0].listen, { host: '0.0.0.0', port: 41000 });
    assert.deepEqual(forwards[0].backends.map((b) => `${b.host}:${b.port}`), ['172.18.0.2:80']);
    assert.deepEqual(forwards[0].sources, ['127.0.0.0/8', '10.0.0.1/32', '10.0.0.2/32', '10.0.0.3/32']);
    assert.ok(onN1.some((r) => r.listen.port === 41000), 'the mesh routes include them');
    assert.deepEqual(nodePortRoutes(ts, { self: 'n1', nodes: new Map([['n1', nodes.get('n1')!]]) }), [], 'a node alone opens none');
  });
});

describe('service names for process tasks', () => {
  const at = (createdAt: string, s: ReturnType<typeof svc>): ReturnType<typeof svc> => Object.assign(s, { createdAt });

  it('gives each service with ports its own loopback address, stable, older services first on a clash', () => {
    const web = at('2024-01-01', svc('web', { ports: [{ target: 80, protocol: 'tcp', vipPort: 40001 }] }));
    const db = at('2024-01-02', svc('db', { ports: [{ target: 5432, protocol: 'tcp', vipPort: 40002 }] }));
    const worker = svc('worker');
    const a = serviceNameAddresses([web, db, worker], 'node-1');
    assert.deepEqual([...a.addresses.keys()].sort(), ['p/db', 'p/web'], 'no ports, no address');
    for (const ip of a.addresses.values()) assert.match(ip, /^127\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/);
    assert.notEqual(a.addresses.get('p/web'), a.addresses.get('p/db'));
    assert.deepEqual(serviceNameAddresses([db, worker, web], 'node-1').addresses, a.addresses, 'order of the view does not matter');
    assert.notEqual(serviceNameAddresses([web], 'node-2').addresses.get('p/web'), a.addresses.get('p/web'), 'another daemon on the host gets others');
    assert.deepEqual(a.listeners, [
      { service: 'p/web', target: 80, protocol: 'tcp', address: a.addresses.get('p/web') },
      { service: 'p/db', target: 5432, protocol: 'tcp', address: a.addresses.get('p/db') },
    ]);
  });

  it('leaves a target port published on every address to that listener; another service\'s name there is shadowed', () => {
    const web = svc('web', { ports: [{ target: 8080, protocol: 'tcp', published: 8080, vipPort: 1 }] });
    const api = svc('api', { ports: [{ target: 9000, protocol: 'tcp', published: 9000, hostIp: '127.0.0.1', vipPort: 2 }] });
    const admin = svc('admin', { ports: [{ target: 8080, protocol: 'tcp', vipPort: 3 }] });
    const n = serviceNameAddresses([web, api, admin], 'x');
    assert.deepEqual(n.listeners.map((l) => `${l.service}:${l.target}`), ['p/api:9000'], 'web:8080 is served by its published port; api publishes on 127.0.0.1 only');
    assert.deepEqual([...n.shadowed], ['p/admin'], 'admin:8080 would reach web');
    const hosts = hostsEntries(web, [web, api, admin], n);
    assert.match(hosts, /^# admin: .*\$ADMIN_HOST:\$ADMIN_PORT$/m);
    assert.doesNotMatch(hosts, /\tadmin\b/);
  });

  it('a task\'s hosts lines: names, aliases, container_name, links, extra_hosts; nothing when there is nothing to add', () => {
    const db = svc('db', { ports: [{ target: 5432, protocol: 'tcp', vipPort: 2 }] });
    db.spec.networks = { default: { aliases: ['database', 'bad name'] }, other: null };
    db.spec.container_name = 'pg';
    const web = svc('web', { ports: [{ target: 80, protocol: 'tcp', vipPort: 1 }] });
    web.spec.links = ['db:sql'];
    web.spec.extra_hosts = ['gw:host-gateway', 'v6=[::1]', 'other:10.0.0.7'];
    const n = serviceNameAddresses([db, web], 's');
    const lines = hostsEntries(web, [db, web], n).split('\n');
    assert.ok(lines.includes(`${n.addresses.get('p/db')}\tdb database pg sql`), lines.join('\n'));
    assert.ok(lines.includes(`${n.addresses.get('p/web')}\tweb`));
    assert.ok(lines.includes('127.0.0.1\tgw') && lines.includes('::1\tv6') && lines.includes('10.0.0.7\tother'));
    assert.ok(!lines.some((l) => l.includes('bad name')));
    const plain = svc('plain');
    assert.equal(hostsEntries(plain, [db, plain]), '', 'names off and no extra_hosts: the host\'s file as it is');
    assert.equal(hostsEntries(web, [db, web]).includes('\tdb'), false, 'names off: no service names');
  });

  it('mesh routes listen on each name too', () => {
    const db = svc('db', { ports: [{ target: 5432, protocol: 'tcp', vipPort: 40002 }] });
    const n = serviceNameAddresses([db], 'x');
    const routes = meshRoutes(new Map([[db.id, db]]), [task({ id: 'a', service: 'db', ports: [{ target: 5432, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 5 }] })], undefined, n.listeners);
    assert.deepEqual(routes.map((r) => [r.id, r.listen]), [
      ['p/db:5432/tcp@vip', { host: '127.0.0.1', port: 40002 }],
      ['p/db:5432/tcp@name', { host: n.addresses.get('p/db'), port: 5432 }],
    ]);
    assert.deepEqual(routes[1].backends, routes[0].backends);
  });
});

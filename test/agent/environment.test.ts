import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { taskEnvironment, taskArgv } from '../../src/agent/environment.js';
import { meshRoutes } from '../../src/agent/endpoints.js';
import type { Task } from '../../src/model/types.js';
import { makeService, makeTask } from '../helpers/fixtures.js';

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

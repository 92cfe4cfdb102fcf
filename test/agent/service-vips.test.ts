import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSubnet } from '../../src/agent/addresses.js';
import { projectDns, serviceVips } from '../../src/agent/service-vips.js';
import type { Service, Task } from '../../src/model/types.js';
import { makeNode, makeService, makeTask } from '../helpers/fixtures.js';

const block = parseSubnet('10.213.0.0/16');
const nodes = new Map([
  ['n1', makeNode('n1', { address: '192.168.1.1' })],
  ['n2', makeNode('n2', { address: '192.168.1.2' })],
]);
const at = { self: 'n1', nodes };
const port = (hostPort: number, hostIp = '127.0.0.1') => [{ target: 80, protocol: 'tcp' as const, hostIp, hostPort }];
const services = (...list: Service[]): Map<string, Service> => new Map(list.map((s) => [s.id, s]));

describe('service VIPs and names for containers', () => {
  const web = makeService('web', { ports: [{ target: 80, protocol: 'tcp', vipPort: 40001 }] });
  web.spec.networks = { default: { aliases: ['www'] } };
  const db = makeService('db'); // no ports: nothing to route to, no name from baton
  const tasks: Task[] = [
    makeTask({ id: 'a', service: 'web', node: 'n1', ports: port(5001) }),
    makeTask({ id: 'b', service: 'web', node: 'n2', ports: port(5002) }),
    makeTask({ id: 'c', service: 'web', node: 'n2', ports: port(5003), health: 'unhealthy' }),
  ];

  it('gives the project a DNS address, the service a VIP at its target ports, each routable task a VIP of its own', () => {
    const v = serviceVips(services(web, db), tasks, at, block);
    const dns = v.dns.get('p')!;
    assert.match(dns, /^10\.213\.\d+\.\d+$/);
    const zone = v.zones.find((z) => z.address === dns)!;
    const [vip] = zone.names.get('web')!;
    assert.deepEqual(zone.names.get('www'), [vip], 'a network alias answers as the service');
    const svcRoute = v.routes.find((r) => r.listen.host === vip)!;
    assert.equal(svcRoute.listen.port, 80);
    assert.deepEqual(svcRoute.backends.map((b) => `${b.id}@${b.host}:${b.port}`), ['a@127.0.0.1:5001', 'b@192.168.1.2:5002'], 'on this node by loopback, elsewhere by node address; never the unhealthy one');
    const each = zone.names.get('tasks.web')!;
    assert.equal(each.length, 2);
    for (const ip of each) {
      const r = v.routes.filter((x) => x.listen.host === ip);
      assert.equal(r.length, 1);
      assert.equal(r[0].backends.length, 1, 'a task address reaches that task alone');
    }
    assert.ok(!zone.names.has('db'));
    assert.deepEqual(new Set(v.addresses), new Set([dns, vip, ...each]));
  });

  it('answers the task addresses for endpoint_mode dnsrr', () => {
    const rr = makeService('web', { ports: [{ target: 80, protocol: 'tcp', vipPort: 40001 }] });
    rr.spec.deploy = { endpoint_mode: 'dnsrr' };
    const v = serviceVips(services(rr), tasks, at, block);
    const zone = v.zones[0];
    assert.deepEqual(new Set(zone.names.get('web')), new Set(zone.names.get('tasks.web')));
    assert.equal(zone.names.get('web')!.length, 2);
  });

  it('keeps a project\'s names to its own zone and the addresses stable as tasks come', () => {
    const other = makeService('web', { id: 'q/web', project: 'q', ports: [{ target: 80, protocol: 'tcp', vipPort: 40002 }] });
    const one = serviceVips(services(web, other), tasks.slice(0, 1), at, block);
    const two = serviceVips(services(web, other), tasks, at, block);
    assert.equal(one.zones.length, 2);
    assert.notEqual(one.dns.get('p'), one.dns.get('q'));
    const vipOf = (v: typeof one, project: string) => v.zones.find((z) => z.address === v.dns.get(project))!.names.get('web')![0];
    assert.notEqual(vipOf(one, 'p'), vipOf(one, 'q'), 'two projects\' web are two services');
    assert.equal(vipOf(two, 'p'), vipOf(one, 'p'));
    assert.equal(two.dns.get('p'), one.dns.get('p'));
    assert.deepEqual(projectDns(services(web, other), block), two.dns, 'a task about to start gets the same DNS address as the plan gives');
  });

  it('gives a stopped service no name and no listener', () => {
    const stopped = { ...web, stopped: true };
    const v = serviceVips(services(stopped), tasks, at, block);
    assert.equal(v.routes.length, 0);
    assert.equal(v.zones.length, 0);
  });

  it('gives a service without declared ports a VIP on the ports its containers report (the image\'s EXPOSE), reached on other nodes through their node port', () => {
    const pg = makeService('pg');
    const ts = [
      makeTask({ id: 'p1', service: 'pg', node: 'n2', ports: [{ target: 5432, protocol: 'tcp', hostIp: '172.18.0.5', hostPort: 5432, nodePort: 41000 }] }),
      makeTask({ id: 'p2', service: 'pg', node: 'n1', ports: [{ target: 5432, protocol: 'tcp', hostIp: '172.18.0.6', hostPort: 5432, nodePort: 41001 }] }),
    ];
    const v = serviceVips(services(pg), ts, at, block);
    const [vip] = v.zones[0].names.get('pg')!;
    const r = v.routes.find((x) => x.listen.host === vip)!;
    assert.equal(r.listen.port, 5432);
    assert.deepEqual(r.backends.map((b) => `${b.id}@${b.host}:${b.port}`), ['p1@192.168.1.2:41000', 'p2@172.18.0.6:5432'], 'the other node\'s container through that node\'s port; this node\'s straight to its address');
    assert.equal(v.zones[0].names.get('tasks.pg')!.length, 2);
    assert.deepEqual(serviceVips(services(pg), [], at, block).routes, [], 'no running task, no port known');
  });
});

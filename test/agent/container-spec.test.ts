import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { containerSpec } from '../../src/agent/container-spec.js';
import { ComposeValueError, parseBytes } from '../../src/model/compose-values.js';
import { LABEL } from '../../src/drivers/driver.js';
import type { Project } from '../../src/model/types.js';
import { makeService } from '../helpers/fixtures.js';

const task = { id: 'abc', project: 'p', service: 'web', slot: 2 };

function project(over: Partial<Project['spec']> = {}): Project {
  return {
    name: 'p', revision: 1, workingDir: '/w', files: [], createdAt: '', updatedAt: '',
    spec: { name: 'p', workingDir: '/w', files: [], services: {}, networks: { default: { name: 'p_default' }, back: { name: 'p_back', internal: true } }, volumes: { data: { name: 'p_data' }, ext: { name: 'shared', external: true } }, secrets: {}, configs: {}, ...over },
  };
}

describe('container spec from a Compose service', () => {
  it('maps the keys that matter for running', () => {
    const svc = makeService('web');
    Object.assign(svc.spec, {
      image: 'app:1', command: ['serve'], environment: { A: '1', UNSET: null }, working_dir: '/app', hostname: 'h', labels: { team: 'x' },
      networks: { default: null, back: { aliases: ['api'] } },
      volumes: [{ type: 'volume', source: 'data', target: '/d' }, { type: 'volume', source: 'ext', target: '/e', read_only: true }, { type: 'bind', source: '/host', target: '/b' }, { type: 'tmpfs', target: '/t', tmpfs: { size: '1m' } }],
      init: true, read_only: true, cap_add: ['NET_ADMIN'], cap_drop: ['ALL'], privileged: false, ulimits: { nofile: { soft: 100, hard: 200 }, nproc: 50 },
      sysctls: ['net.core.somaxconn=1024'], extra_hosts: ['db=10.0.0.1', 'x:10.0.0.2'], dns: '1.1.1.1', tmpfs: ['/run'], shm_size: '64m', devices: ['/dev/fuse', '/dev/sda:/dev/xvda:r'],
      deploy: { resources: { limits: { cpus: '0.5', memory: '128M', pids: 100 } } }, pull_policy: 'never', logging: { driver: 'json-file', options: { 'max-size': '1m' } },
    });
    const c = containerSpec(task, svc, project(), [{ target: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 40000 }]);
    assert.equal(c.image, 'app:1');
    assert.deepEqual(c.command, ['serve']);
    assert.equal(c.entrypoint, undefined, 'the image keeps its entrypoint');
    assert.deepEqual(c.env, { A: '1', BATON_PROJECT: 'p', BATON_SERVICE: 'web', BATON_SLOT: '2' });
    assert.equal(c.labels.team, 'x');
    assert.equal(c.labels[LABEL.task], 'abc');
    assert.equal(c.labels[LABEL.slot], '2');
    assert.deepEqual(c.networks.map((n) => [n.name, n.aliases, n.internal]), [['p_default', ['tasks.web', 'p-web-2'], false], ['p_back', ['api', 'tasks.web', 'p-web-2'], true]], 'the replica also answers to the name Compose gives its container');
    assert.deepEqual(c.volumes.map((v) => [v.name, v.external]), [['p_data', false], ['shared', true]]);
    assert.deepEqual(c.mounts.map((m) => [m.type, m.source, m.target, m.readOnly]), [['volume', 'p_data', '/d', false], ['volume', 'shared', '/e', true], ['bind', '/host', '/b', false], ['tmpfs', undefined, '/t', false]]);
    assert.equal(c.mounts[3].tmpfsSize, 1024 * 1024);
    assert.deepEqual(c.ulimits, [{ name: 'nofile', soft: 100, hard: 200 }, { name: 'nproc', soft: 50, hard: 50 }]);
    assert.deepEqual(c.sysctls, { 'net.core.somaxconn': '1024' });
    assert.deepEqual(c.extraHosts, ['db:10.0.0.1', 'x:10.0.0.2']);
    assert.deepEqual(c.dns, ['1.1.1.1']);
    assert.equal(c.shmSizeBytes, 64 * 1024 * 1024);
    assert.deepEqual(c.devices, [{ host: '/dev/fuse', container: '/dev/fuse', permissions: 'rwm' }, { host: '/dev/sda', container: '/dev/xvda', permissions: 'r' }]);
    assert.equal(c.nanoCpus, 5e8);
    assert.equal(c.memoryBytes, 128 * 1024 * 1024);
    assert.equal(c.pidsLimit, 100);
    assert.equal(c.pullPolicy, 'never');
    assert.deepEqual(c.ports, [{ target: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 40000 }]);
    assert.deepEqual(c.logging, { driver: 'json-file', options: { 'max-size': '1m' } });
  });

  it('a service with container_name answers to that name only, not to a generated one', () => {
    const svc = makeService('web');
    Object.assign(svc.spec, { image: 'app:1', container_name: 'the-web', networks: { default: null } });
    const c = containerSpec(task, svc, project(), []);
    assert.deepEqual(c.networks.map((n) => n.aliases), [['tasks.web']]);
  });

  it('names the key of a value the engine cannot take', () => {
    const bad = (extra: Record<string, unknown>, key: RegExp): void => {
      const svc = makeService('web');
      Object.assign(svc.spec, { image: 'x' }, extra);
      assert.throws(() => containerSpec(task, svc, project(), []), (e: Error) => e instanceof ComposeValueError && e.service === 'web' && key.test(e.message));
    };
    bad({ deploy: { resources: { limits: { memory: 'lots' } } } }, /deploy\.resources\.limits\.memory: invalid size "lots"/);
    bad({ deploy: { resources: { limits: { cpus: '-1' } } } }, /cpus/);
    bad({ pull_policy: 'sometimes' }, /pull_policy/);
    bad({ volumes: [{ type: 'volume', source: 'undeclared', target: '/x' }] }, /volume "undeclared" is not declared/);
    bad({ image: undefined }, /image/);
    bad({ ulimits: { nofile: 'many' } }, /ulimits\.nofile/);
    bad({ devices: ['fuse'] }, /devices: expected HOST_PATH/);
  });

  it('parses Compose byte sizes', () => {
    assert.equal(parseBytes('512m'), 512 * 1024 ** 2);
    assert.equal(parseBytes('1.5g'), 1.5 * 1024 ** 3);
    assert.equal(parseBytes('64kb'), 64 * 1024);
    assert.equal(parseBytes(1000), 1000);
    assert.equal(parseBytes('12x'), undefined);
  });
});

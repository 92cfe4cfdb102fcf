import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { load, project, PROC } from './helpers.js';

describe('normalization to long syntax', () => {
  it('ports: host IP, IPv6, ranges, protocols, long form', async () => {
    const dir = project({ 'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    ports: ["3000", "127.0.0.1::81", "[::1]:8443:443", "9000-9001:90-91/udp", "7000-7002:70", {target: 82, published: 8282, mode: host}]\n` });
    const ports = (await load(dir)).services.web.ports;
    assert.deepEqual(ports, [
      { mode: 'ingress', target: 3000, protocol: 'tcp' },
      { mode: 'ingress', host_ip: '127.0.0.1', target: 81, protocol: 'tcp' },
      { mode: 'ingress', host_ip: '::1', target: 443, published: '8443', protocol: 'tcp' },
      { mode: 'ingress', target: 90, published: '9000', protocol: 'udp' },
      { mode: 'ingress', target: 91, published: '9001', protocol: 'udp' },
      { mode: 'ingress', target: 70, published: '7000-7002', protocol: 'tcp' },
      { mode: 'host', target: 82, published: '8282', protocol: 'tcp' },
    ]);
  });

  it('volumes: bind (relative and ~), named, anonymous, tmpfs, long form with a relative source', async () => {
    const dir = project({ 'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    volumes:\n      - ./data:/data:ro,z\n      - ~/cache:/cache\n      - named:/n:nocopy\n      - /anon\n      - {type: tmpfs, target: /tmp, tmpfs: {size: 1000}}\n      - {type: bind, source: ../up, target: /up}\nvolumes:\n  named: {}\n` });
    const v = (await load(dir)).services.web.volumes;
    assert.deepEqual(v[0], { type: 'bind', source: join(dir, 'data'), target: '/data', read_only: true, bind: { create_host_path: true, selinux: 'z' } });
    assert.equal(v[1].source, join(homedir(), 'cache'));
    assert.deepEqual(v[2], { type: 'volume', source: 'named', target: '/n', volume: { nocopy: true } });
    assert.deepEqual(v[3], { type: 'volume', target: '/anon', volume: {} });
    assert.deepEqual(v[4], { type: 'tmpfs', target: '/tmp', tmpfs: { size: 1000 } });
    assert.equal(v[5].source, join(dir, '..', 'up'));
  });

  it('secrets, configs, depends_on, networks, build, healthcheck', async () => {
    const dir = project({
      'compose.yaml': `${PROC}services:
  db: {command: x, healthcheck: {test: "pg_isready"}, networks: [front]}
  web:
    build: ./app
    depends_on: {db: {condition: service_healthy}}
    networks: {front: {aliases: [w]}}
    secrets: [s, {source: s, target: /run/other, mode: 0400}]
    configs: [c]
  solo:
    image: x
    network_mode: host
networks:
  front: {}
secrets:
  s: {file: ./s.txt}
configs:
  c: {external: true}
`,
    });
    const p = await load(dir);
    const web = p.services.web;
    assert.deepEqual(web.build, { context: join(dir, 'app'), dockerfile: 'Dockerfile' });
    assert.deepEqual(web.depends_on, { db: { condition: 'service_healthy', required: true } });
    assert.deepEqual(web.networks, { front: { aliases: ['w'] } });
    assert.deepEqual(web.secrets, [{ source: 's', target: '/run/secrets/s' }, { source: 's', target: '/run/other', mode: 0o400 }]);
    assert.deepEqual(web.configs, [{ source: 'c' }]);
    assert.deepEqual(p.services.db.healthcheck?.test, ['CMD-SHELL', 'pg_isready']);
    assert.deepEqual(p.services.solo.networks, {}, 'network_mode means no default network');
    assert.equal(p.networks.front.name, `${p.name}_front`);
    assert.equal(p.networks.default, undefined, 'nobody uses the default network');
    assert.equal(p.secrets.s.name, `${p.name}_s`);
    assert.equal(p.secrets.s.file, join(dir, 's.txt'));
    assert.equal(p.configs.c.name, 'c', 'external resources keep their name');
  });

  it('the default network exists when a service uses it, named after the project', async () => {
    const p = await load(project({ 'compose.yaml': `name: nets\n${PROC}services:\n  a: {command: x}\n` }));
    assert.deepEqual(p.services.a.networks, { default: null });
    assert.equal(p.networks.default.name, 'nets_default');
  });
});

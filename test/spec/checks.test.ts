import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { at, load, problems, project, PROC } from './helpers.js';

describe('semantic checks', () => {
  it('undefined networks, volumes, secrets and configs', async () => {
    const ps = await problems(project({ 'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    networks: [back]\n    volumes: ["data:/d"]\n    secrets: [tok]\n    configs: [conf]\n` }));
    assert.match(at(ps, 'services.web.networks.back').message, /undefined network "back"/);
    assert.match(at(ps, 'services.web.volumes[0]').message, /undefined volume "data"/);
    assert.match(at(ps, 'services.web.secrets[0]').message, /undefined secret "tok"/);
    assert.match(at(ps, 'services.web.configs[0]').message, /undefined config "conf"/);
    assert.equal(at(ps, 'services.web.volumes[0]').line, 6);
  });

  it('depends_on: unknown service, optional dependency, cycle', async () => {
    const ps = await problems(project({ 'compose.yaml': `${PROC}services:\n  a: {command: x, depends_on: [b, ghost]}\n  b: {command: x, depends_on: [c]}\n  c: {command: x, depends_on: [a]}\n` }));
    assert.match(at(ps, 'services.a.depends_on.ghost').message, /undefined service "ghost"/);
    assert.ok(ps.some((p) => /dependency cycle: (a -> b -> c -> a)/.test(p.message)), JSON.stringify(ps));
    const ok = await load(project({ 'compose.yaml': `${PROC}services:\n  a: {command: x, depends_on: {opt: {condition: service_started, required: false}}}\n` }));
    assert.equal(ok.services.a.depends_on.opt.required, false);
  });

  it('port numbers, replicas, scale and restart values', async () => {
    const ps = await problems(project({ 'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    ports: ["70000:80", "8080:0"]\n    deploy: {replicas: -1}\n    scale: -2\n    restart: sometimes\n` }));
    assert.match(at(ps, 'services.web.ports[0]').message, /invalid port 70000: ports must be 1-65535/);
    assert.match(at(ps, 'services.web.ports[1]').message, /invalid port 0/);
    assert.match(at(ps, 'services.web.deploy.replicas').message, />= 0, got -1/);
    assert.match(at(ps, 'services.web.scale').message, />= 0, got -2/);
    assert.match(at(ps, 'services.web.restart').message, /expected no, always, on-failure\[:N\] or unless-stopped/);
  });

  it('a service needs an image or a build, unless its driver is process (top level or per service)', async () => {
    const ps = await problems(project({ 'compose.yaml': 'services:\n  a: {command: x}\n  b: {command: x, x-baton: {driver: process}}\n  c: {build: .}\n' }));
    assert.deepEqual(ps.map((p) => p.path), ['services.a']);
    assert.match(ps[0].message, /neither an image nor a build/);
    assert.equal(ps[0].line, 2);
  });

  it('several problems in one file are reported together, in line order', async () => {
    const ps = await problems(project({ 'compose.yaml': `${PROC}services:\n  a: {command: x, depends_on: [nope]}\n  b: {command: x, restart: bad}\n  c: {command: x, networks: [none]}\n` }));
    assert.equal(ps.length, 3);
    assert.deepEqual(ps.map((p) => p.line), [3, 4, 5]);
  });
});

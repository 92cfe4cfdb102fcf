import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { at, load, problems, project, PROC } from './helpers.js';

describe('schema validation', () => {
  it('wrong types are refused with what was expected, where', async () => {
    const ps = await problems(project({ 'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    ports: 8080\n    environment: 5\n    depends_on: 5\n` }));
    const ports = at(ps, 'services.web.ports');
    assert.equal(ports.line, 5);
    assert.equal(ports.col, 5);
    assert.match(ports.message, /expected a list, got the number 8080/);
    assert.match(at(ps, 'services.web.environment').message, /expected a mapping or a list, got the number 5/);
    assert.match(at(ps, 'services.web.depends_on').message, /expected a list or a mapping, got the number 5/);
    assert.equal(ps.length, 3, 'one problem per key path');
  });

  it('a malformed port names the entry and the expected form', async () => {
    const ps = await problems(project({ 'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    ports: ["8080:80", "80a0"]\n` }));
    const p = at(ps, 'services.web.ports[1]');
    assert.match(p.message, /invalid port "80a0": expected "\[\[HOST_IP:\]HOST_PORT:\]CONTAINER_PORT\[\/PROTOCOL\]"/);
    assert.equal(p.line, 5);
    assert.equal(p.col, 24);
  });

  it('unknown keys and bad durations', async () => {
    const ps = await problems(project({ 'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    imag: nginx\n    healthcheck: {test: "true", interval: 10parsecs}\n    stop_grace_period: forever\n` }));
    assert.match(at(ps, 'services.web.imag').message, /unknown key "imag"/);
    assert.match(at(ps, 'services.web.healthcheck.interval').message, /invalid duration "10parsecs"/);
    assert.match(at(ps, 'services.web.stop_grace_period').message, /invalid duration "forever"/);
  });

  it('service names must be simple', async () => {
    const ps = await problems(project({ 'compose.yaml': `${PROC}services:\n  "my web":\n    command: x\n` }));
    assert.match(at(ps, 'services.my web').message, /invalid name "my web"/);
  });

  it('enum values list what is allowed', async () => {
    const ps = await problems(project({ 'compose.yaml': `${PROC}services:\n  a: {command: x}\n  b:\n    command: x\n    depends_on: {a: {condition: service_ready}}\n` }));
    assert.match(at(ps, 'services.b.depends_on.a.condition').message, /expected one of "service_started", "service_healthy", "service_completed_successfully", got the string "service_ready"/);
  });

  it('keys of today\'s Compose validate (the overlay on the 2021 schema)', async () => {
    const dir = project({
      'opt.env': 'O=1\n',
      'compose.yaml': `name: modern
${PROC}services:
  db:
    image: postgres
    healthcheck: {test: ["CMD", "true"], interval: 5s, start_interval: 1s}
  web:
    image: nginx
    depends_on: {db: {condition: service_healthy, required: true, restart: true}}
    env_file: [{path: opt.env, required: false, format: raw}]
    ports: [{target: 80, published: "8080", name: http, app_protocol: http}]
    develop: {watch: [{path: ./src, action: sync, target: /app}]}
    secrets: [tok]
    command: null
secrets:
  tok: {environment: TOKEN}
`,
    });
    const p = await load(dir);
    assert.equal(p.name, 'modern');
    assert.equal(p.services.web.ports[0].name, 'http');
    assert.equal(p.services.web.depends_on.db.restart, true);
    assert.equal(p.services.web.command, null);
  });

  it('interpolated numbers and booleans validate as numbers and booleans', async () => {
    const dir = project({ 'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    deploy: {replicas: "\${N}"}\n    tty: \${TTY}\n` });
    const web = (await load(dir, { env: { N: '3', TTY: 'true' } })).services.web;
    assert.equal(web.deploy?.replicas, 3);
    assert.equal(web.tty, true);
    const ps = await problems(dir, { env: { N: 'three', TTY: 'true' } });
    assert.match(at(ps, 'services.web.deploy.replicas').message, /expected a whole number, got the string "three"/);
  });

  it('each file is validated with its own positions', async () => {
    const dir = project({ 'a.yaml': `${PROC}services:\n  web: {command: x}\n`, 'b.yaml': 'services:\n  web:\n    labels: 7\n' });
    const ps = await problems(dir, { files: ['a.yaml', 'b.yaml'] });
    const p = at(ps, 'services.web.labels');
    assert.match(p.file, /b\.yaml$/);
    assert.equal(p.line, 3);
  });

  it('keys of current Compose: pre_start hooks, timed pull policies, top-level models', async () => {
    const dir = project({
      'compose.yaml': `services:
  app:
    image: busybox
    pull_policy: every_12h
    pre_start: [{command: [echo, hi]}]
  db:
    image: postgres
    pull_policy: daily
models:
  llm: {model: ai/smollm2}
`,
    });
    const p = await load(dir);
    assert.equal(p.services.app.pull_policy, 'every_12h');
    const bad = await problems(project({ 'compose.yaml': 'services:\n  app:\n    image: x\n    pull_policy: every_day\n' }));
    assert.match(at(bad, 'services.app.pull_policy').message, /every_day/);
  });

  it('service_healthy on a service with an image is left to the HEALTHCHECK of its image', async () => {
    const dir = project({ 'compose.yaml': 'services:\n  web:\n    image: w\n    depends_on: {db: {condition: service_healthy}}\n  db:\n    image: postgres\n' });
    assert.deepEqual((await load(dir)).services.web.depends_on.db.condition, 'service_healthy');
  });
});

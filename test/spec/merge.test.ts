import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { load, project, PROC } from './helpers.js';

describe('merging -f files', () => {
  const base = `${PROC}services:
  web:
    command: [one, two]
    entrypoint: [sh, -c]
    environment: [A=1, B=1]
    labels: {a: "1"}
    ports: ["8080:80"]
    volumes: ["./a:/data", "./logs:/logs"]
    dns: [1.1.1.1]
    healthcheck: {test: ["CMD", "a"], interval: 5s}
`;

  it('mappings merge, sequences append, command/entrypoint/healthcheck.test replace', async () => {
    const dir = project({ 'a.yaml': base, 'b.yaml': 'services:\n  web:\n    command: [three]\n    entrypoint: [bash]\n    ports: ["9090:90"]\n    dns: [8.8.8.8]\n    healthcheck: {test: ["CMD", "b"]}\n' });
    const web = (await load(dir, { files: ['a.yaml', 'b.yaml'] })).services.web;
    assert.deepEqual(web.command, ['three']);
    assert.deepEqual(web.entrypoint, ['bash']);
    assert.deepEqual(web.ports.map((p) => p.target), [80, 90]);
    assert.deepEqual(web.dns, ['1.1.1.1', '8.8.8.8']);
    assert.deepEqual(web.healthcheck, { test: ['CMD', 'b'], interval: '5s' });
  });

  it('environment and labels merge key by key, list and mapping forms mixed', async () => {
    const dir = project({ 'a.yaml': base, 'b.yaml': 'services:\n  web:\n    environment: {B: "2", C: "3"}\n    labels: [b=2]\n' });
    const web = (await load(dir, { files: ['a.yaml', 'b.yaml'] })).services.web;
    assert.deepEqual(web.environment, { A: '1', B: '2', C: '3' });
    assert.deepEqual(web.labels, { a: '1', b: '2' });
  });

  it('volumes are keyed by their target: an override replaces the mount at the same path', async () => {
    const dir = project({ 'a.yaml': base, 'b.yaml': 'services:\n  web:\n    volumes: ["./b:/data", "./c:/c"]\n' });
    const web = (await load(dir, { files: ['a.yaml', 'b.yaml'] })).services.web;
    assert.deepEqual(web.volumes.map((v) => [v.source?.split('/').pop(), v.target]), [['b', '/data'], ['logs', '/logs'], ['c', '/c']]);
  });

  it('!reset removes a value, !override replaces instead of merging', async () => {
    const dir = project({ 'a.yaml': base, 'b.yaml': 'services:\n  web:\n    ports: !reset []\n    labels: !reset {}\n    environment: !override {Z: "26"}\n' });
    const web = (await load(dir, { files: ['a.yaml', 'b.yaml'] })).services.web;
    assert.deepEqual(web.ports, []);
    assert.deepEqual(web.labels, {});
    assert.deepEqual(web.environment, { Z: '26' });
  });

  it('a service added by a later file, and a later file\'s top-level keys', async () => {
    const dir = project({ 'a.yaml': base, 'b.yaml': 'name: second\nservices:\n  db: {command: y}\n' });
    const p = await load(dir, { files: ['a.yaml', 'b.yaml'] });
    assert.equal(p.name, 'second');
    assert.deepEqual(Object.keys(p.services).sort(), ['db', 'web']);
  });

  it('compose.yaml and compose.override.yaml are found and merged; docker-compose.yml also works', async () => {
    const dir = project({ 'compose.yaml': base, 'compose.override.yaml': 'services:\n  web:\n    environment: [O=1]\n' });
    const p = await load(dir);
    assert.equal(p.services.web.environment.O, '1');
    assert.equal(p.files.length, 2);
    const old = project({ 'docker-compose.yml': base });
    assert.match((await load(old)).files[0], /docker-compose\.yml$/);
  });

  it('COMPOSE_FILE names the files when -f is not given', async () => {
    const dir = project({ 'x.yaml': base, 'y.yaml': 'services:\n  web:\n    environment: [Y=1]\n' });
    const p = await load(dir, { env: { COMPOSE_FILE: 'x.yaml:y.yaml' } });
    assert.equal(p.services.web.environment.Y, '1');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { project, PROC } from './helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
// Run from the repository so `--import tsx` resolves; the project is named by --project-directory.
const REPO = fileURLToPath(new URL('../..', import.meta.url));

function baton(dir: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, '--project-directory', dir, ...args], { cwd: REPO, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME, BATON_HOME: dir } });
  return { code: r.status ?? 1, out: r.stdout, err: r.stderr };
}

describe('baton config', () => {
  const dir = project({
    'compose.yaml': `name: cfg\n${PROC}services:\n  web:\n    image: nginx\n    ports: ["8080:80"]\n    volumes: ["data:/d"]\n  dbg:\n    command: x\n    profiles: [debug]\nvolumes:\n  data: {}\n`,
    'bad.yaml': `${PROC}services:\n  web:\n    command: x\n    ports: ["80a0"]\n    environment: 5\n`,
  });

  it('prints the normalized project as YAML or JSON, and the lists', () => {
    const y = baton(dir, ['config']);
    assert.equal(y.code, 0, y.err);
    const doc = parse(y.out) as { name: string; services: Record<string, { ports: unknown[] }> };
    assert.equal(doc.name, 'cfg');
    assert.deepEqual(Object.keys(doc.services), ['web']);
    assert.deepEqual(doc.services.web.ports, [{ mode: 'ingress', target: 80, published: '8080', protocol: 'tcp' }]);
    const j = baton(dir, ['config', '--format', 'json', '--profile', 'debug']);
    assert.deepEqual(Object.keys((JSON.parse(j.out) as { services: object }).services), ['dbg', 'web']);
    assert.equal(baton(dir, ['config', '--services']).out, 'web\n');
    assert.equal(baton(dir, ['config', '--profiles']).out, 'debug\n');
    assert.equal(baton(dir, ['config', '--volumes']).out, 'data\n');
    assert.equal(baton(dir, ['config', '--images']).out, 'nginx\n');
  });

  it('refuses a bad file with every problem, positions, exit 1 and no stack trace', () => {
    const r = baton(dir, ['config', '-q', '-f', join(dir, 'bad.yaml')]);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /bad\.yaml:5:13: services\.web\.ports\[0\]: invalid port "80a0"/);
    assert.match(r.err, /bad\.yaml:6:5: services\.web\.environment: expected a mapping or a list, got the number 5/);
    assert.doesNotMatch(r.err, /\n\s+at /);
    const f = baton(dir, ['config', '--format', 'toml']);
    assert.equal(f.code, 1);
    assert.match(f.err, /--format: expected yaml or json/);
  });

  it('named services come with what they depend on, and only the resources they use', () => {
    const d = project({ 'compose.yaml': `name: sel\nservices:\n  web: {image: w, depends_on: [db], networks: [front]}\n  db: {image: d, volumes: ["data:/d"]}\n  other: {image: o, networks: [back]}\nnetworks:\n  front: {}\n  back: {}\nvolumes:\n  data: {}\n` });
    const r = baton(d, ['config', '--format', 'json', 'web']);
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out) as { services: object; networks: object; volumes: object };
    assert.deepEqual(Object.keys(doc.services), ['db', 'web']);
    assert.deepEqual(Object.keys(doc.networks), ['default', 'front']);
    assert.deepEqual(Object.keys(doc.volumes), ['data']);
    assert.equal(baton(d, ['config', '--networks']).out, 'back\ndefault\nfront\n');
  });
});

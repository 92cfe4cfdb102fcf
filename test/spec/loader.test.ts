import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProject, formatConfig, interpolate, shellSplit, SpecError } from '../../src/spec/index.js';

const root = mkdtempSync(join(tmpdir(), 'baton-spec-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function project(files: Record<string, string>, folder = `proj${n++}`): string {
  const dir = join(root, folder);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
const PROC = 'x-baton: {driver: process}\n';

async function problems(dir: string, opts: Parameters<typeof loadProject>[0] = {}): Promise<SpecError['problems']> {
  try {
    await loadProject({ cwd: dir, env: {}, ...opts });
  } catch (err) {
    if (err instanceof SpecError) return err.problems;
    throw err;
  }
  assert.fail('expected the project to be refused');
}

describe('Compose loading', () => {
  it('finds compose.yaml and its override, names the project after the folder', async () => {
    const dir = project({ 'compose.yaml': `${PROC}services:\n  a:\n    command: sleep 1\n    environment: [X=1]\n`, 'compose.override.yaml': 'services:\n  a:\n    environment: [Y=2]\n' }, 'My_App.1');
    const p = await loadProject({ cwd: dir, env: {} });
    assert.equal(p.name, 'my_app1');
    assert.equal(p.files.length, 2);
    assert.deepEqual(p.services.a.environment, { X: '1', Y: '2' });
    assert.deepEqual(p.services.a.command, ['sleep', '1']);
  });

  it('project name: -p over COMPOSE_PROJECT_NAME over name:', async () => {
    const dir = project({ 'compose.yaml': `name: fromfile\n${PROC}services: {a: {command: x}}\n` });
    assert.equal((await loadProject({ cwd: dir, env: {} })).name, 'fromfile');
    assert.equal((await loadProject({ cwd: dir, env: { COMPOSE_PROJECT_NAME: 'fromenv' } })).name, 'fromenv');
    assert.equal((await loadProject({ cwd: dir, env: { COMPOSE_PROJECT_NAME: 'fromenv' }, projectName: 'Flag' })).name, 'flag');
  });

  it('interpolates from .env and the environment, which wins', async () => {
    const dir = project({ '.env': 'A=from-dotenv\nB="quoted value"\n# comment\nexport C=c\n', 'compose.yaml': `${PROC}services:\n  a:\n    command: echo $A \${B} \${C} \${D:-dflt} $$HOME\n` });
    assert.deepEqual((await loadProject({ cwd: dir, env: { A: 'from-env' } })).services.a.command, ['echo', 'from-env', 'quoted', 'value', 'c', 'dflt', '$HOME']);
  });

  it('interpolation forms', () => {
    const env = { SET: 'v', EMPTY: '' };
    assert.equal(interpolate('${SET:-d}|${EMPTY:-d}|${EMPTY-d}|${UNSET-d}', env), 'v|d||d');
    assert.equal(interpolate('${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${UNSET+alt}', env), 'alt||alt|');
    assert.equal(interpolate('${UNSET:-${SET}}', env), 'v');
    assert.equal(interpolate('$$SET $SET', env), '$SET v');
    assert.throws(() => interpolate('${EMPTY:?must be set}', env), /EMPTY.*must be set/);
    assert.equal(interpolate('${EMPTY?x}', env), '');
  });

  it('a required variable names file, line and key, with the user\'s message', async () => {
    const dir = project({ 'compose.yaml': `${PROC}services:\n  web:\n    command: run\n    environment:\n      TOKEN: \${TOKEN:?set TOKEN first}\n` });
    const [p] = await problems(dir);
    assert.match(p.file, /compose\.yaml$/);
    assert.equal(p.line, 6);
    assert.equal(p.path, 'services.web.environment.TOKEN');
    assert.match(p.message, /set TOKEN first/);
  });

  it('merges -f files: mappings merge, sequences append, command replaces', async () => {
    const dir = project({
      'a.yaml': `${PROC}services:\n  web:\n    command: [one, two]\n    ports: ["8080:80"]\n    labels: {a: "1"}\n`,
      'b.yaml': 'services:\n  web:\n    command: [three]\n    ports: ["9090:90"]\n    labels: {b: "2"}\n',
    });
    const p = await loadProject({ cwd: dir, env: {}, files: ['a.yaml', 'b.yaml'] });
    assert.deepEqual(p.services.web.command, ['three']);
    assert.deepEqual(p.services.web.ports.map((x) => x.target), [80, 90]);
    assert.deepEqual(p.services.web.labels, { a: '1', b: '2' });
  });

  it('normalizes ports, depends_on, environment, volumes and the default network', async () => {
    const dir = project({
      'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    ports: ["127.0.0.1:8080:80/udp", 9000, {target: 81, published: "8181"}]\n    environment: [A=1, B]\n    volumes: ["./data:/data:ro", "named:/n"]\n    depends_on: [db]\n  db:\n    command: y\nvolumes: {named: {}}\n`,
    });
    const web = (await loadProject({ cwd: dir, env: {} })).services.web;
    assert.deepEqual(web.ports, [
      { target: 80, published: '8080', host_ip: '127.0.0.1', protocol: 'udp', mode: 'ingress' },
      { target: 9000, protocol: 'tcp', mode: 'ingress' },
      { target: 81, published: '8181', protocol: 'tcp', mode: 'ingress' },
    ]);
    assert.deepEqual(web.environment, { A: '1', B: null });
    assert.deepEqual(web.depends_on, { db: { condition: 'service_started', required: true } });
    assert.equal(web.volumes[0].type, 'bind');
    assert.equal(web.volumes[0].source, join(dir, 'data'));
    assert.equal(web.volumes[0].read_only, true);
    assert.equal(web.volumes[1].type, 'volume');
    assert.deepEqual(Object.keys(web.networks), ['default']);
  });

  it('env_file is merged under environment; a missing optional one is skipped', async () => {
    const dir = project({ 'web.env': 'A=file\nB=file\n', 'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    env_file: [web.env, {path: missing.env, required: false}]\n    environment: {B: inline}\n` });
    assert.deepEqual((await loadProject({ cwd: dir, env: {} })).services.web.environment, { A: 'file', B: 'inline' });
  });

  it('profiles: services with profiles start only when one is enabled', async () => {
    const dir = project({ 'compose.yaml': `${PROC}services:\n  a: {command: x}\n  dbg: {command: y, profiles: [debug]}\n` });
    assert.deepEqual(Object.keys((await loadProject({ cwd: dir, env: {} })).services), ['a']);
    assert.deepEqual(Object.keys((await loadProject({ cwd: dir, env: {}, profiles: ['debug'] })).services).sort(), ['a', 'dbg']);
    assert.deepEqual(Object.keys((await loadProject({ cwd: dir, env: { COMPOSE_PROFILES: 'debug' } })).services).sort(), ['a', 'dbg']);
  });

  it('reports several problems at once, each with line, column and key path', async () => {
    const dir = project({
      'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    ports: ["99999:80"]\n    restart: sometimes\n    depends_on: [ghost]\n  img: {}\n`,
    });
    const ps = await problems(dir);
    const byPath = Object.fromEntries(ps.map((p) => [p.path, p]));
    assert.match(byPath['services.web.ports[0]'].message, /1-65535/);
    assert.equal(byPath['services.web.ports[0]'].line, 5);
    assert.match(byPath['services.web.restart'].message, /sometimes/);
    assert.match(byPath['services.web.depends_on.ghost'].message, /undefined service "ghost"/);
    assert.ok(ps.length >= 3);
  });

  it('duplicate keys and bad YAML are errors with positions', async () => {
    const dup = await problems(project({ 'compose.yaml': 'services:\n  a: {command: x}\n  a: {command: y}\n' }));
    assert.match(dup[0].message, /[Dd]uplicate|unique/);
    assert.equal(dup[0].line, 3);
    const bad = await problems(project({ 'compose.yaml': 'services:\n  a: [unclosed\n' }));
    assert.ok(bad[0].line);
  });

  it('depends_on cycles and service_healthy without a healthcheck', async () => {
    const ps = await problems(project({ 'compose.yaml': `${PROC}services:\n  a: {command: x, depends_on: [b]}\n  b: {command: x, depends_on: {a: {condition: service_healthy}}}\n` }));
    assert.ok(ps.some((p) => /cycle/.test(p.message)));
    assert.ok(ps.some((p) => /no healthcheck/.test(p.message)));
  });

  it('no image and no build is refused unless the driver is process', async () => {
    const ps = await problems(project({ 'compose.yaml': 'services:\n  a: {command: x}\n' }));
    assert.match(ps[0].message, /neither an image nor a build/);
  });

  it('no Compose file found is an error naming the folder', async () => {
    const ps = await problems(project({}));
    assert.match(ps[0].message, /no Compose file found/);
  });

  it('config output has the project, sorted services, and no internal keys', async () => {
    const dir = project({ 'compose.yaml': `name: cfg\n${PROC}services:\n  b: {command: x}\n  a: {command: y}\n` });
    const p = await loadProject({ cwd: dir, env: {} });
    const json = JSON.parse(formatConfig(p, 'json')) as Record<string, unknown>;
    assert.equal(json.name, 'cfg');
    assert.deepEqual(Object.keys(json.services as object), ['a', 'b']);
    assert.equal(json.workingDir, undefined);
    assert.match(formatConfig(p, 'yaml'), /^name: cfg/m);
  });

  it('splits command strings as a shell does', () => {
    assert.deepEqual(shellSplit(`sh -c 'echo "a b"' x\\ y ""`), ['sh', '-c', 'echo "a b"', 'x y', '']);
    assert.throws(() => shellSplit('echo "open'), /unterminated/);
  });

  it('random mutations never crash the loader with anything but SpecError', async () => {
    const base = `${PROC}services:\n  web:\n    command: ["node", "x"]\n    ports: ["8080:80"]\n    environment: {A: "\${A:-1}"}\n    depends_on: [db]\n  db:\n    command: y\n    healthcheck: {test: ["CMD", "true"], interval: 1s}\n`;
    const chars = ['{', '}', '[', ']', ':', '-', '"', "'", '$', '\n', ' ', '\t', '&', '*', '!', '#', 'x', '0'];
    let seed = 42;
    const rnd = (k: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % k;
    };
    const dir = project({});
    for (let i = 0; i < 300; i++) {
      const arr = [...base];
      for (let m = 0; m < 1 + rnd(4); m++) {
        const at = rnd(arr.length);
        const op = rnd(3);
        if (op === 0) arr.splice(at, 1);
        else if (op === 1) arr.splice(at, 0, chars[rnd(chars.length)]);
        else arr[at] = chars[rnd(chars.length)];
      }
      writeFileSync(join(dir, 'compose.yaml'), arr.join(''));
      try {
        await loadProject({ cwd: dir, env: {} });
      } catch (err) {
        assert.ok(err instanceof SpecError, `case ${i}: ${(err as Error).stack}\n---\n${arr.join('')}`);
      }
    }
  });
});

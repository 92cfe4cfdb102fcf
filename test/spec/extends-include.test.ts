import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { at, load, problems, project, PROC } from './helpers.js';

describe('extends', () => {
  it('same file: the base\'s keys, merged under the service\'s own', async () => {
    const dir = project({ 'compose.yaml': `${PROC}services:\n  base:\n    command: [base]\n    environment: {A: "1", B: "1"}\n    ports: ["80"]\n  web:\n    extends: base\n    environment: {B: "2"}\n  api:\n    extends: {service: web}\n    command: [api]\n` });
    const p = await load(dir);
    assert.deepEqual(p.services.web.command, ['base']);
    assert.deepEqual(p.services.web.environment, { A: '1', B: '2' });
    assert.deepEqual(p.services.api.command, ['api']);
    assert.deepEqual(p.services.api.environment, { A: '1', B: '2' });
    assert.equal(p.services.api.extends, undefined);
  });

  it('another file: its relative paths point from its own folder', async () => {
    const dir = project({
      'common/base.yaml': 'services:\n  tmpl:\n    image: busybox\n    build: ./ctx\n    volumes: ["./data:/data"]\n    env_file: [base.env]\n',
      'common/base.env': 'FROM_BASE=1\n',
      'compose.yaml': 'services:\n  web:\n    extends: {file: common/base.yaml, service: tmpl}\n    volumes: ["./mine:/mine"]\n',
    });
    const web = (await load(dir)).services.web;
    assert.equal(web.build?.context, join(dir, 'common', 'ctx'));
    assert.deepEqual(web.volumes.map((v) => v.source), [join(dir, 'common', 'data'), join(dir, 'mine')]);
    assert.equal(web.environment.FROM_BASE, '1');
  });

  it('!reset in the extending service drops the base\'s value', async () => {
    const dir = project({ 'compose.yaml': `${PROC}services:\n  base: {command: x, ports: ["80"]}\n  web:\n    extends: base\n    ports: !reset []\n` });
    assert.deepEqual((await load(dir)).services.web.ports, []);
  });

  it('cycles and unknown services are errors at the extends key', async () => {
    const ps = await problems(project({ 'compose.yaml': `${PROC}services:\n  a: {extends: b, command: x}\n  b: {extends: a, command: x}\n  c: {extends: ghost, command: x}\n` }));
    const cycle = ps.find((p) => /extends cycle/.test(p.message));
    assert.match(cycle?.message ?? '', /extends cycle: (a -> b -> a|b -> a -> b)/);
    assert.match(cycle?.path ?? '', /^services\.[ab]\.extends$/);
    const c = at(ps, 'services.c.extends');
    assert.match(c.message, /"ghost", which is not defined/);
    assert.equal(c.line, 5);
  });
});

describe('include', () => {
  it('brings in another project with its own .env and folder', async () => {
    const dir = project({
      'db/compose.yaml': 'services:\n  db:\n    image: "postgres:${PG:-15}"\n    volumes: ["./init:/init", "data:/var/lib/postgresql"]\nvolumes:\n  data: {}\n',
      'db/.env': 'PG=16\n',
      'compose.yaml': 'include:\n  - db/compose.yaml\nservices:\n  web:\n    image: nginx\n    depends_on: [db]\n',
    });
    const p = await load(dir);
    assert.equal(p.services.db.image, 'postgres:16');
    assert.equal(p.services.db.volumes[0].source, join(dir, 'db', 'init'));
    assert.equal(p.volumes.data.name, `${p.name}_data`);
    assert.deepEqual(Object.keys(p.services.web.depends_on), ['db']);
  });

  it('long form with env_file; a resource defined twice is an error', async () => {
    const dir = project({
      'lib/svc.yaml': 'services:\n  cache: {image: "redis:${V}"}\n',
      'lib/vars.env': 'V=7\n',
      'compose.yaml': 'include:\n  - path: lib/svc.yaml\n    env_file: lib/vars.env\nservices:\n  web: {image: nginx}\n',
    });
    assert.equal((await load(dir)).services.cache.image, 'redis:7');
    const clash = project({ 'lib/svc.yaml': 'services:\n  web: {image: redis}\n', 'compose.yaml': 'include: [lib/svc.yaml]\nservices:\n  web: {image: nginx}\n' });
    assert.match(at(await problems(clash), 'services.web').message, /also defined by the included file/);
  });

  it('a missing included file is an error at its entry', async () => {
    const ps = await problems(project({ 'compose.yaml': 'include: [nope.yaml]\nservices: {}\n' }));
    assert.match(at(ps, 'include[0]').message, /not found/);
  });
});

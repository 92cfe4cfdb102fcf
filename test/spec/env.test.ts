import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { interpolate, parseDotenv, normalizeProjectName } from '../../src/spec/index.js';
import { at, load, problems, project, PROC } from './helpers.js';

describe('.env files', () => {
  it('KEY=VALUE, export, quotes, comments, escapes, multi-line, references', () => {
    const vars = parseDotenv([
      '# comment',
      'A=plain value # trailing comment',
      'export B=b',
      "C='single $A \\n kept'",
      'D="double\\nline $B"',
      'E="multi',
      'line"',
      'F=${A:-x}-${G:-dflt}',
      'H=',
      'I: yaml-style',
    ].join('\n'));
    assert.deepEqual(vars, { A: 'plain value', B: 'b', C: 'single $A \\n kept', D: 'double\nline b', E: 'multi\nline', F: 'plain value-dflt', H: '', I: 'yaml-style' });
  });

  it('the environment wins over .env; --env-file replaces .env, later files win', async () => {
    const dir = project({ '.env': 'A=dot\nB=dot\n', 'one.env': 'A=one\nB=one\n', 'two.env': 'B=two\n', 'compose.yaml': `${PROC}services:\n  a:\n    command: echo \${A} \${B}\n` });
    assert.deepEqual((await load(dir, { env: { A: 'os' } })).services.a.command, ['echo', 'os', 'dot']);
    assert.deepEqual((await load(dir, { envFiles: ['one.env', 'two.env'] })).services.a.command, ['echo', 'one', 'two']);
    assert.match((await problems(dir, { envFiles: ['missing.env'] }))[0].message, /env file not found/);
  });

  it('env_file: in order, under environment; required: false; format: raw keeps $ as written', async () => {
    const dir = project({
      'a.env': 'A=a\nB=a\nR=$A\n',
      'raw.env': 'RAW=${NOT_EXPANDED}\n',
      'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    env_file: [a.env, {path: raw.env, format: raw}, {path: none.env, required: false}]\n    environment: {B: inline, U: null}\n`,
    });
    assert.deepEqual((await load(dir)).services.web.environment, { A: 'a', B: 'inline', R: 'a', RAW: '${NOT_EXPANDED}', U: null });
    const missing = project({ 'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    env_file: none.env\n` });
    assert.match(at(await problems(missing), 'services.web.env_file').message, /env file .*none\.env not found/);
  });

  it('a variable named without a value takes it from the environment, else null', async () => {
    const dir = project({ 'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    environment: [SET, UNSET]\n` });
    assert.deepEqual((await load(dir, { env: { SET: 'v' } })).services.web.environment, { SET: 'v', UNSET: null });
  });
});

describe('interpolation', () => {
  const env = { SET: 'v', EMPTY: '' };
  it('every operator, set, empty and unset', () => {
    assert.equal(interpolate('$SET ${SET} ${UNSET}|', env), 'v v |');
    assert.equal(interpolate('${SET:-d}|${EMPTY:-d}|${UNSET:-d}', env), 'v|d|d');
    assert.equal(interpolate('${SET-d}|${EMPTY-d}|${UNSET-d}', env), 'v||d');
    assert.equal(interpolate('${SET:+a}|${EMPTY:+a}|${UNSET:+a}', env), 'a||');
    assert.equal(interpolate('${SET+a}|${EMPTY+a}|${UNSET+a}', env), 'a|a|');
    assert.equal(interpolate('${EMPTY?e}|${SET:?e}', env), '|v');
    assert.throws(() => interpolate('${UNSET?you must}', env), /required variable UNSET is missing a value: you must/);
    assert.throws(() => interpolate('${EMPTY:?you must}', env), /EMPTY.*you must/);
  });

  it('nested defaults and $$ escaping', () => {
    assert.equal(interpolate('${UNSET:-${ALSO:-${SET}}}', env), 'v');
    assert.equal(interpolate('${UNSET:-a-${SET}-b}', env), 'a-v-b');
    assert.equal(interpolate('$$SET $${SET} $', env), '$SET ${SET} $');
  });

  it('malformed forms are errors with the file position', async () => {
    assert.throws(() => interpolate('${SET', env), /never closed/);
    assert.throws(() => interpolate('${1BAD}', env), /invalid interpolation/);
    const ps = await problems(project({ 'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    image: "\${TAG"\n` }));
    assert.equal(at(ps, 'services.web.image').line, 5);
  });

  it('keys are not interpolated', async () => {
    const p = await load(project({ 'compose.yaml': `${PROC}services:\n  web:\n    command: x\n    labels: {"$KEY": v}\n` }), { env: { KEY: 'k' } });
    assert.deepEqual(p.services.web.labels, { $KEY: 'v' });
  });
});

describe('project name', () => {
  it('normalized as Compose does', () => {
    assert.equal(normalizeProjectName('My_App.1'), 'my_app1');
    assert.equal(normalizeProjectName('--x Y'), 'xy');
    assert.equal(normalizeProjectName('...'), '');
  });

  it('-p over COMPOSE_PROJECT_NAME (also from .env) over name: over the folder', async () => {
    const dir = project({ 'compose.yaml': `name: FromFile\n${PROC}services: {a: {command: x}}\n` }, 'Folder.Name');
    assert.equal((await load(dir)).name, 'fromfile');
    assert.equal((await load(dir, { env: { COMPOSE_PROJECT_NAME: 'env' } })).name, 'env');
    assert.equal((await load(dir, { projectName: 'Flag', env: { COMPOSE_PROJECT_NAME: 'env' } })).name, 'flag');
    const viaDotenv = project({ '.env': 'COMPOSE_PROJECT_NAME=dotenv\n', 'compose.yaml': `${PROC}services: {a: {command: x}}\n` });
    assert.equal((await load(viaDotenv)).name, 'dotenv');
    const folder = project({ 'compose.yaml': `${PROC}services: {a: {command: x}}\n` }, 'Some Folder');
    assert.equal((await load(folder)).name, 'somefolder');
    assert.match((await problems(project({ 'compose.yaml': `name: "***"\n${PROC}services: {}\n` })))[0].message, /no letter or digit/);
  });
});

describe('profiles', () => {
  it('--profile, COMPOSE_PROFILES and "*"', async () => {
    const dir = project({ 'compose.yaml': `${PROC}services:\n  a: {command: x}\n  dbg: {command: y, profiles: [debug]}\n  ops: {command: z, profiles: [ops, debug]}\n` });
    assert.deepEqual(Object.keys((await load(dir)).services), ['a']);
    assert.deepEqual(Object.keys((await load(dir, { profiles: ['ops'] })).services), ['a', 'ops']);
    assert.deepEqual(Object.keys((await load(dir, { env: { COMPOSE_PROFILES: 'debug' } })).services), ['a', 'dbg', 'ops']);
    assert.deepEqual(Object.keys((await load(dir, { profiles: ['*'] })).services), ['a', 'dbg', 'ops']);
  });
});

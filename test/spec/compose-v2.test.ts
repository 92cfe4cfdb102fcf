// Normalization rules of Docker Compose v2 (compose-go) that the comparison
// with the awesome-compose samples and the Compose Specification's examples
// turned up, each with a small fixture of its own, and `baton config`'s
// printing in the shape `docker compose config` prints.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { configObject, formatConfig, goDuration, unitBytes } from '../../src/spec/index.js';
import { at, load, problems, project } from './helpers.js';

type O = Record<string, unknown>;

describe('Compose v2 normalization', () => {
  it('short volumes: a volume section for named and anonymous volumes, bind options, cleaned targets', async () => {
    const dir = project({
      'compose.yaml': `services:\n  a:\n    image: x\n    volumes: ["data:/d/", "/anon", "./src:/src:rw,rshared", "/etc/x/:/x:ro,Z", "c:/c"]\nvolumes:\n  data: {}\n`,
    });
    const v = (await load(dir)).services.a.volumes;
    assert.deepEqual(v[0], { type: 'volume', source: 'data', target: '/d', volume: {} });
    assert.deepEqual(v[1], { type: 'volume', target: '/anon', volume: {} });
    assert.deepEqual(v[2], { type: 'bind', source: join(dir, 'src'), target: '/src', bind: { propagation: 'rshared', create_host_path: true } });
    // An absolute source is kept as written; only the target is cleaned.
    assert.deepEqual(v[3], { type: 'bind', source: '/etc/x/', target: '/x', read_only: true, bind: { selinux: 'Z', create_host_path: true } });
    // A one-letter name before ":" reads as a Windows drive, so the whole is a target.
    assert.deepEqual(v[4], { type: 'volume', target: 'c:/c', volume: {} });
  });

  it('a volume with an empty section is refused at its entry', async () => {
    const ps = await problems(project({ 'compose.yaml': `services:\n  a:\n    image: x\n    volumes: ["data::/d"]\n` }));
    assert.match(at(ps, 'services.a.volumes[0]').message, /empty section/);
  });

  it('secrets default to /run/secrets/<source>; configs keep no target', async () => {
    const dir = project({ 'compose.yaml': `services:\n  a:\n    image: x\n    secrets: [s, {source: s, mode: 0440}]\n    configs: [c]\nsecrets:\n  s: {file: ./s}\nconfigs:\n  c: {file: ./c}\n`, s: 'x', c: 'y' });
    const a = (await load(dir)).services.a;
    assert.deepEqual(a.secrets, [{ source: 's', target: '/run/secrets/s' }, { source: 's', target: '/run/secrets/s', mode: 0o440 }]);
    assert.deepEqual(a.configs, [{ source: 'c' }]);
  });

  it('links, service: namespaces and volumes_from are dependencies; an explicit depends_on wins', async () => {
    const dir = project({
      'compose.yaml': `services:
  db: {image: x}
  cache: {image: x}
  data: {image: x}
  net: {image: x}
  web:
    image: x
    links: ["db:database", cache]
    depends_on: {cache: {condition: service_healthy}}
    volumes_from: ["data:ro", "container:other"]
    network_mode: "service:net"
`,
    });
    assert.deepEqual((await load(dir)).services.web.depends_on, {
      cache: { condition: 'service_healthy', required: true },
      db: { condition: 'service_started', restart: true, required: true },
      net: { condition: 'service_started', restart: true, required: true },
      data: { condition: 'service_started', restart: false, required: true },
    });
  });

  it('an empty networks mapping means the default network; a provider service has none', async () => {
    const p = await load(project({ 'compose.yaml': `services:\n  a: {image: x, networks: {}}\n  b: {provider: {type: model}}\n` }));
    assert.deepEqual(p.services.a.networks, { default: null });
    assert.deepEqual(p.services.b.networks, {});
  });

  it('label_file is read into labels, which override it', async () => {
    const dir = project({ 'compose.yaml': `services:\n  a:\n    image: x\n    label_file: [./one.labels]\n    labels: {b: explicit}\n`, 'one.labels': 'a=1\nb=2\nc=${a}-x\n' });
    const a = (await load(dir)).services.a;
    assert.deepEqual(a.labels, { a: '1', b: 'explicit', c: '1-x' });
    assert.equal(a.label_file, undefined);
    const ps = await problems(project({ 'compose.yaml': `services:\n  a:\n    image: x\n    label_file: ./missing.labels\n` }));
    assert.match(at(ps, 'services.a.label_file').message, /label file .*missing\.labels not found/);
  });

  it('build: bare args from the environment (unset ones dropped), local additional contexts absolute, secrets in long form', async () => {
    const dir = project({ 'compose.yaml': `services:\n  a:\n    build:\n      args: [SET, UNSET, GIVEN=1]\n      additional_contexts: {lib: ../lib, img: "docker-image://alpine"}\n      secrets: [s]\nsecrets:\n  s: {environment: S}\n` });
    const b = (await load(dir, { env: { SET: 'yes', S: 'x' } })).services.a.build!;
    assert.deepEqual(b.args, { SET: 'yes', GIVEN: '1' });
    assert.deepEqual(b.additional_contexts, { lib: join(dir, '..', 'lib'), img: 'docker-image://alpine' });
    assert.deepEqual(b.secrets, [{ source: 's' }]);
  });

  it('pull_policy if_not_present is missing; external.name is name + external: true', async () => {
    const p = await load(project({ 'compose.yaml': `services:\n  a: {image: x, pull_policy: if_not_present, networks: [n]}\nnetworks:\n  n: {external: {name: shared}}\n` }));
    assert.equal(p.services.a.pull_policy, 'missing');
    assert.deepEqual(p.networks.n, { external: true, name: 'shared' });
  });

  it('models: a list is a mapping; a model that is not declared is refused', async () => {
    const p = await load(project({ 'compose.yaml': `services:\n  a: {image: x, models: [m]}\nmodels:\n  m: {model: ai/x}\n` }));
    assert.deepEqual(p.services.a.models, { m: null });
    const ps = await problems(project({ 'compose.yaml': `services:\n  a: {image: x, models: [m]}\n` }));
    assert.match(at(ps, 'services.a.models.m').message, /undefined model "m"/);
  });

  it('a pre_start hook without an image runs the service image; hook commands are split', async () => {
    const a = (await load(project({ 'compose.yaml': `services:\n  a:\n    image: app\n    pre_start: [{command: "./migrate --all"}, {image: busybox, command: [ls]}]\n    post_start: [{command: x}]\n` }))).services.a;
    assert.deepEqual(a.pre_start, [{ command: ['./migrate', '--all'], image: 'app' }, { image: 'busybox', command: ['ls'] }]);
    assert.deepEqual(a.post_start, [{ command: ['x'] }]);
  });

  it('develop.watch paths are absolute', async () => {
    const dir = project({ 'compose.yaml': `services:\n  a:\n    image: x\n    develop: {watch: [{path: ./src, action: sync, target: /app}]}\n` });
    const w = ((await load(dir)).services.a.develop as { watch: { path: string }[] }).watch;
    assert.equal(w[0].path, join(dir, 'src'));
  });
});

describe('config printed as docker compose config prints it', () => {
  it('durations as Go prints them, byte sizes as a string of bytes', () => {
    assert.deepEqual(['90s', '1h', '500ms', '1.5s', '0s', '1m30s', '2h45m', '10us'].map(goDuration), ['1m30s', '1h0m0s', '500ms', '1.5s', '0s', '1m30s', '2h45m0s', '10µs']);
    assert.deepEqual(['512M', '1gb', '1.5k', 1000, '64MiB', '2 g'].map(unitBytes), ['536870912', '1073741824', '1536', '1000', '67108864', '2147483648']);
  });

  const dir = project({
    'compose.yaml': `name: shape
services:
  web:
    image: nginx
    command: sh -c 'echo $$HOME && true'
    healthcheck: {test: "curl x", interval: 90s, timeout: 1m}
    stop_grace_period: 1m
    mem_limit: 512m
    volumes: ["./site:/usr/share/nginx/html", "data:/data"]
    secrets: [{source: s, mode: 0400}]
    deploy: {replicas: 2}
    extra_hosts: ["b.example:10.0.0.2", "a.example=10.0.0.1"]
    devices: ["/dev/ttyUSB0"]
    gpus: all
    blkio_config: {device_read_bps: [{path: /dev/sda, rate: 1mb}]}
    privileged: false
    depends_on: [db]
  db:
    image: pg
    models: [m]
networks:
  unused: {}
volumes:
  data: {}
  spare: {}
secrets:
  s: {file: ./s}
models:
  m: {model: ai/x}
`,
    s: 'x',
  });

  it('YAML: fields in compose-go order, Go-typed values, $ doubled, unused resources left out', async () => {
    const p = await load(dir);
    const y = configObject(p, 'yaml');
    const web = (y.services as O).web as O;
    assert.deepEqual(Object.keys(y), ['name', 'services', 'networks', 'volumes', 'secrets', 'models']);
    assert.deepEqual(Object.keys(web), ['blkio_config', 'command', 'depends_on', 'deploy', 'devices', 'extra_hosts', 'gpus', 'healthcheck', 'image', 'mem_limit', 'networks', 'secrets', 'stop_grace_period', 'volumes']);
    assert.deepEqual(web.healthcheck, { test: ['CMD-SHELL', 'curl x'], timeout: '1m0s', interval: '1m30s' });
    assert.equal(web.stop_grace_period, '1m0s');
    assert.equal(web.mem_limit, '536870912');
    assert.deepEqual(web.secrets, [{ source: 's', target: '/run/secrets/s', mode: '0400' }]);
    assert.deepEqual(web.volumes, [
      { type: 'bind', source: join(dir, 'site'), target: '/usr/share/nginx/html', bind: {} },
      { type: 'volume', source: 'data', target: '/data', volume: {} },
    ]);
    assert.deepEqual(web.extra_hosts, ['a.example=10.0.0.1', 'b.example=10.0.0.2']);
    assert.deepEqual(web.devices, [{ source: '/dev/ttyUSB0', target: '/dev/ttyUSB0', permissions: 'rwm' }]);
    assert.deepEqual(web.gpus, [{ count: -1 }]);
    assert.deepEqual(web.blkio_config, { device_read_bps: [{ path: '/dev/sda', rate: '1048576' }] });
    assert.deepEqual(Object.keys(y.volumes as O), ['data'], 'spare is used by no service');
    assert.deepEqual(Object.keys(y.networks as O), ['default'], 'unused is used by no service');
    const text = formatConfig(p, 'yaml');
    assert.match(text, /- echo \$\$HOME && true/);
  });

  it('JSON: sorted top level, command/entrypoint always there, empty structs Go prints, <>& escaped, no top-level models', async () => {
    const p = await load(dir);
    const text = formatConfig(p, 'json');
    assert.match(text, /\\u0026\\u0026/);
    const j = JSON.parse(text) as O;
    assert.deepEqual(Object.keys(j), ['name', 'networks', 'secrets', 'services', 'volumes']);
    const db = (j.services as O).db as O;
    assert.equal(db.command, null);
    assert.equal(db.entrypoint, null);
    const web = (j.services as O).web as O;
    assert.deepEqual(web.deploy, { replicas: 2, resources: {}, placement: {} });
    assert.deepEqual(web.blkio_config, { device_read_bps: [{ Path: '/dev/sda', Rate: '1048576' }] });
    assert.deepEqual((j.networks as O).default, { name: 'shape_default', ipam: {} });
    assert.equal(web.privileged, undefined, 'false booleans are left out');
  });

  it('--no-interpolate output keeps $ as written', async () => {
    const p = await load(dir, { noInterpolate: true });
    const text = formatConfig(p, 'yaml', { noInterpolate: true });
    assert.match(text, /echo \$\$HOME/);
    assert.doesNotMatch(text, /\$\$\$\$/);
  });
});

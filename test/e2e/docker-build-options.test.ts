// The options of a Compose `build:` section reach the engine's builder (its RUN
// steps see them), `baton build --no-cache / --pull` as docker compose's, and
// the keys only BuildKit serves are refused naming file, line and key, with
// nothing built or deployed.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { dockerForTests } from '../helpers/docker.js';
import { Sandbox } from '../helpers/baton.js';

const engine = await dockerForTests();

describe('build: options through the engine', { skip: engine.skip }, () => {
  const sb = new Sandbox();
  const project = `bo${process.pid}`;
  const extraTag = `baton-test/build-options-${process.pid}:extra`;
  const env = (): Record<string, string> => ({ DOCKER_HOST: engine.host });
  const docker = (...args: string[]): string => execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: engine.host }, encoding: 'utf8' }).trim();
  const imageExists = (ref: string): boolean => spawnSync('docker', ['image', 'inspect', ref], { env: { ...process.env, DOCKER_HOST: engine.host }, stdio: 'ignore' }).status === 0;

  // Each RUN step fails the build unless the option reached it.
  sb.write('app/Dockerfile', `FROM ${engine.image}
RUN grep -q "10.1.2.3.*example.internal" /etc/hosts
RUN test "$(ulimit -n)" = 1234
RUN df -k /dev/shm | tail -1 | grep -q " 131072 "
RUN test -z "$(grep eth0 /proc/net/dev)"
RUN echo built > /built
`);
  const build = (extra = ''): string => `name: ${project}
services:
  app:
    image: ${project}-app
    command: ["sleep", "3600"]
    init: true
    build:
      context: ./app
      network: none
      extra_hosts: ["example.internal=10.1.2.3"]
      ulimits: {nofile: {soft: 1234, hard: 2048}}
      shm_size: 128m
      tags: ["${extraTag}"]
${extra}`;

  after(async () => {
    await sb.run(['down'], { env: env() });
    await sb.cleanup();
    for (const ref of [`${project}-app`, extraTag]) spawnSync('docker', ['rmi', '-f', ref], { env: { ...process.env, DOCKER_HOST: engine.host }, stdio: 'ignore' });
    await engine.release();
  });

  it('network, extra_hosts, ulimits, shm_size and tags reach the builder', async () => {
    sb.write('compose.yaml', build());
    const r = await sb.run(['up', '-d', '--wait'], { env: env() });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Service app\s+Built/);
    assert.ok(imageExists(extraTag), 'tags: names the image too');
    assert.equal(docker('image', 'inspect', '-f', '{{.Id}}', extraTag), docker('image', 'inspect', '-f', '{{.Id}}', `${project}-app`));
    assert.equal((await sb.ok(['exec', 'app', 'cat', '/built'], { env: env() })).trim(), 'built');
  });

  it('baton build uses the cache, --no-cache does not, cache_from chooses it, --pull pulls the FROM image', async () => {
    const cached = await sb.ok(['build', 'app'], { env: env() });
    assert.match(cached, /Using cache/);
    const fresh = await sb.ok(['build', '--no-cache', 'app'], { env: env() });
    assert.doesNotMatch(fresh, /Using cache/);
    assert.match(fresh, /Service app\s+Built/);
    // With cache_from, the classic builder takes its cache only from the images named there.
    sb.write('compose.yaml', build(`      cache_from: ["${project}-app"]\n`));
    assert.match(await sb.ok(['build', 'app'], { env: env() }), /Using cache/, 'cache from the image itself');
    sb.write('compose.yaml', build(`      cache_from: ["${engine.image}"]\n`));
    assert.doesNotMatch(await sb.ok(['build', 'app'], { env: env() }), /Using cache/, 'no cache from an unrelated image');
    sb.write('compose.yaml', build());
    // The FROM image exists only here (no registry is reachable): with --pull the builder must try to pull it, and fails.
    const pulled = await sb.run(['build', '--pull', 'app'], { env: env() });
    assert.notEqual(pulled.code, 0);
    assert.match(pulled.stderr, /service "app": build failed: .*(pull access denied|repository does not exist|dial tcp|lookup|connection refused)/i);
    // The same with `pull: true` in the file.
    sb.write('compose.yaml', build('      pull: true\n'));
    assert.notEqual((await sb.run(['build', 'app'], { env: env() })).code, 0, 'pull: true pulls too');
    sb.write('compose.yaml', build());
  });

  it('down --rmi local removes the images built without an image: name, --rmi all every service\'s image', async () => {
    const withPlain = build(`  plain:\n    build: ./app\n    command: ["sleep", "3600"]\n    init: true\n`);
    sb.write('compose.yaml', withPlain);
    await sb.ok(['up', '-d', '--wait'], { env: env() });
    assert.ok(imageExists(`${project}-plain`));
    const local = await sb.ok(['down', '--rmi', 'local'], { env: env() });
    assert.match(local, new RegExp(`Image ${project}-plain\\s+Removed`));
    assert.ok(!imageExists(`${project}-plain`));
    assert.ok(imageExists(`${project}-app`), 'an image named by image: stays with --rmi local');
    await sb.ok(['up', '-d', '--wait'], { env: env() });
    const all = await sb.ok(['down', '--rmi', 'all'], { env: env() });
    assert.match(all, new RegExp(`Image ${project}-app\\s+Removed`));
    assert.ok(!imageExists(`${project}-app`) && !imageExists(`${project}-plain`));
    assert.ok(imageExists(extraTag), 'another tag of the same image stays, as with docker rmi');
    const bad = await sb.run(['down', '--rmi', 'some'], { env: env() });
    assert.match(bad.stderr, /--rmi: expected local or all, got "some"/);
    // Back as the next test expects it.
    sb.write('compose.yaml', build());
    await sb.ok(['up', '-d', '--wait'], { env: env() });
  });

  it('keys only BuildKit serves are refused naming file, line and key; nothing is built or changed', async () => {
    const before = JSON.stringify((await sb.ok(['ps', '-q'], { env: env() })).split('\n').sort());
    const imageId = docker('image', 'inspect', '-f', '{{.Id}}', `${project}-app`);
    const cases: [string, RegExp][] = [
      ['      secrets: [token]\nsecrets:\n  token: {file: ./app/Dockerfile}\n', /compose\.yaml:\d+:\d+: services\.app\.build\.secrets: only BuildKit has build secrets/],
      ['      ssh: [default]\n', /compose\.yaml:\d+:\d+: services\.app\.build\.ssh: only BuildKit has SSH agent forwarding/],
      ['      platforms: [linux/amd64, linux/arm64]\n', /compose\.yaml:\d+:\d+: services\.app\.build\.platforms: the engine's classic builder builds one platform at a time, not 2/],
      ['      privileged: true\n', /compose\.yaml:\d+:\d+: services\.app\.build\.privileged: only BuildKit runs privileged builds/],
      ['      shm_size: lots\n', /compose\.yaml:\d+:\d+: services\.app\.build\.shm_size: expected a size/],
    ];
    for (const [extra, message] of cases) {
      // The key replaces its earlier value when it was set already (shm_size).
      const file = build(extra).replace(extra.startsWith('      shm_size') ? '      shm_size: 128m\n' : '\u0000', '');
      sb.write('compose.yaml', file);
      for (const args of [['up', '-d', '--build'], ['build', 'app']]) {
        const r = await sb.run(args, { env: env() });
        assert.notEqual(r.code, 0, `${args.join(' ')} with ${extra.trim()}`);
        assert.match(r.stderr, message);
        assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
        assert.doesNotMatch(r.stdout, /Step 1/, 'nothing was sent to the builder');
      }
    }
    assert.equal(docker('image', 'inspect', '-f', '{{.Id}}', `${project}-app`), imageId, 'the image is untouched');
    assert.equal(JSON.stringify((await sb.ok(['ps', '-q'], { env: env() })).split('\n').sort()), before, 'the running project is untouched');
    sb.write('compose.yaml', build());
  });
});

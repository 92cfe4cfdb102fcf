// A registry that asks for credentials (Debian's docker-registry with an
// htpasswd file): `baton login` checks them through the engine and keeps
// them where the Docker CLI does (config.json, or a credential helper), so
// `docker push` and `baton up` both use them; `baton logout` forgets them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerForTests } from '../helpers/docker.js';
import { registryForTests, type TestRegistry } from '../helpers/registry.js';
import { Sandbox, type PsRow } from '../helpers/baton.js';

const engine = await dockerForTests();
const registry: TestRegistry | undefined = engine.skip ? undefined : await registryForTests({ users: { alice: 's3cret' } });
const skip = engine.skip ?? registry?.skip;

// A credential helper speaking Docker's protocol, keeping one login in a file beside it.
const HELPER = `#!/bin/sh
store="$(dirname "$0")/store.json"
case "$1" in
  store) cat > "$store" ;;
  get) cat > /dev/null; if [ -f "$store" ]; then cat "$store"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase) cat > /dev/null; rm -f "$store" ;;
  *) exit 2 ;;
esac
`;

describe('a registry that asks for credentials', { skip: skip ? `skipped: ${skip}` : false }, () => {
  const sb = new Sandbox();
  const project = `rl${process.pid}`;
  const address = registry?.address ?? '';
  const image = `${address}/private/app:${process.pid}`;
  const config = join(sb.dir, '.docker');
  const helpers = join(sb.dir, 'helpers');
  const env = { DOCKER_HOST: engine.host, DOCKER_CONFIG: config, PATH: `${helpers}:${process.env.PATH}` };
  const docker = (args: string[], input?: string): string =>
    execFileSync('docker', args, { env: { ...process.env, ...env, DOCKER_BUILDKIT: '0' }, encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] }).trim();
  /** Takes the tag off this engine (a container may still use the image), so the next use must pull. */
  const untag = (): void => {
    try {
      docker(['rmi', '-f', image]);
    } catch {
      /* not tagged here */
    }
  };
  const login = (password: string) => sb.run(['login', address, '-u', 'alice', '--password-stdin'], { env, input: `${password}\n`, timeoutMs: 60_000 });
  const compose = `name: ${project}\nservices:\n  app:\n    image: ${image}\n    command: ["sleep", "600"]\n    init: true\n`;
  const ps = async (): Promise<PsRow[]> => JSON.parse(await sb.ok(['ps', '--format', 'json'], { env })) as PsRow[];

  before(() => {
    mkdirSync(helpers, { recursive: true });
    writeFileSync(join(helpers, 'docker-credential-batontest'), HELPER);
    chmodSync(join(helpers, 'docker-credential-batontest'), 0o755);
    sb.write('compose.yaml', compose);
  });

  after(async () => {
    await sb.run(['down'], { env, timeoutMs: 60_000 });
    for (const i of [image, `${project}d-derived`, `${address}/private/built:${process.pid}`, `${project}p-local`]) {
      try {
        docker(['rmi', '-f', i]);
      } catch {
        /* not there */
      }
    }
    await sb.cleanup();
    await registry?.stop();
    await engine.release();
  });

  it('a wrong password is refused by the registry: a clear error, non-zero, nothing kept', async () => {
    const r = await login('wrong');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`login to ${address.replace(/\./g, '\\.')} failed: .*unauthorized`, 'i'));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(join(config, 'config.json')), false);
  });

  it('login keeps the credentials in Docker\'s config.json, which docker push then uses too', async () => {
    const r = await login('s3cret');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Login Succeeded/);
    const file = join(config, 'config.json');
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(Buffer.from(saved.auths[address].auth, 'base64').toString(), 'alice:s3cret');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    docker(['build', '-q', '-t', image, '-'], `FROM ${engine.image}\nENV PRIVATE=1\n`);
    docker(['push', image]);
    docker(['rmi', image]);
  });

  it('up pulls the private image with those credentials', async () => {
    const out = await sb.ok(['up', '-d', '--wait'], { env, timeoutMs: 120_000 });
    assert.match(out, /Service app\s+Pulled/);
    assert.equal((await ps()).filter((t) => t.state === 'running').length, 1);
  });

  it('a build whose Dockerfile starts FROM the private image gets the login too', async () => {
    untag(); // up pulled it: the builder must fetch it again
    sb.write('derived/Dockerfile', `FROM ${image}\nRUN echo derived > /derived\n`);
    const out = await sb.ok(['-f', sb.write('derived.yaml', `name: ${project}d\nservices:\n  derived:\n    build: ./derived\n    command: ["sleep", "600"]\n`), 'build'], { env, timeoutMs: 120_000 });
    assert.match(out, /Service derived\s+Built/);
  });

  it('push sends a built image to the registry with the login; a service without an image name is refused', async () => {
    const built = `${address}/private/built:${process.pid}`;
    sb.write('pushed/Dockerfile', `FROM ${engine.image}\nRUN echo pushed > /pushed\n`);
    sb.write('push.yaml', `name: ${project}p\nservices:\n  built:\n    build: ./pushed\n    image: ${built}\n    command: ["sleep", "600"]\n  local:\n    build: ./pushed\n    command: ["sleep", "600"]\n`);
    await sb.ok(['-f', 'push.yaml', 'build'], { env, timeoutMs: 120_000 });
    const out = await sb.ok(['-f', 'push.yaml', 'push'], { env, timeoutMs: 120_000 });
    assert.match(out, /#built .*Pushed|#built .*digest: sha256:/);
    assert.match(out, /Service built\s+Pushed/);
    assert.doesNotMatch(out, /Service local/, 'no image name: nothing to push');
    const manifest = await fetch(`http://${address}/v2/private/built/manifests/${process.pid}`, {
      headers: { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}`, accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    assert.equal(manifest.status, 200, 'the registry has the pushed tag');
    const named = await sb.run(['-f', 'push.yaml', 'push', 'local'], { env });
    assert.notEqual(named.code, 0);
    assert.match(named.stderr, /service "local" has no image: name to push to/);
  });

  it('after logout a pull is refused, naming the service and the registry\'s answer', async () => {
    const out = await sb.ok(['logout', address], { env });
    assert.match(out, /Removing login credentials/);
    assert.equal((JSON.parse(readFileSync(join(config, 'config.json'), 'utf8')) as { auths: object }).auths[address as never], undefined);
    const r = await sb.run(['pull', 'app'], { env, timeoutMs: 60_000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /service "app": image ".*" could not be pulled: .*(no basic auth credentials|unauthorized)/i);
    untag();
    const b = await sb.run(['-f', 'derived.yaml', 'build'], { env, timeoutMs: 120_000 });
    assert.notEqual(b.code, 0, 'the build cannot fetch its FROM image without the login');
    assert.match(b.stderr, /service "derived": build failed: .*(no basic auth credentials|unauthorized)/i);
    const p = await sb.run(['-f', 'push.yaml', 'push', 'built'], { env, timeoutMs: 60_000 });
    assert.notEqual(p.code, 0, 'no push without the login');
    assert.match(p.stderr, /service "built": image ".*" could not be pushed: .*(no basic auth credentials|unauthorized)/i);
  });

  it('with a credential helper (credsStore), login stores through it and pulls read from it, as Docker does', async () => {
    writeFileSync(join(config, 'config.json'), JSON.stringify({ credsStore: 'batontest' }));
    const r = await login('s3cret');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /docker-credential-batontest/);
    assert.deepEqual(JSON.parse(readFileSync(join(helpers, 'store.json'), 'utf8')), { ServerURL: address, Username: 'alice', Secret: 's3cret' });
    assert.equal((JSON.parse(readFileSync(join(config, 'config.json'), 'utf8')) as { auths?: object }).auths, undefined, 'no password in config.json');
    await sb.ok(['down'], { env, timeoutMs: 60_000 });
    untag();
    const out = await sb.ok(['up', '-d', '--wait'], { env, timeoutMs: 120_000 });
    assert.match(out, /Service app\s+Pulled/);
  });
});

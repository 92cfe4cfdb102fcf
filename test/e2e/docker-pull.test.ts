// Pulling images from a real registry (Debian's docker-registry on
// 127.0.0.1; no public registry is reachable): `up` pulls what is missing and
// shows the engine's progress, `baton pull` fetches a newer push of the same
// tag, `pull_policy: always` pulls at every `up`, and a registry that is gone
// leaves a local copy in use but fails a missing image, naming the service.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { dockerForTests } from '../helpers/docker.js';
import { registryForTests, type TestRegistry } from '../helpers/registry.js';
import { Sandbox, waitFor, type PsRow } from '../helpers/baton.js';

const engine = await dockerForTests();
const registry: TestRegistry | undefined = engine.skip ? undefined : await registryForTests();
const skip = engine.skip ?? registry?.skip;

describe('images from a registry', { skip: skip ? `skipped: ${skip}` : false }, () => {
  const sb = new Sandbox();
  const project = `pl${process.pid}`;
  const image = `${registry?.address}/baton-test/pulled:${process.pid}`;
  const env = { DOCKER_HOST: engine.host };
  const docker = (args: string[], input?: string): string =>
    execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: engine.host, DOCKER_BUILDKIT: '0' }, encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] }).trim();
  const imageId = (): string => docker(['image', 'inspect', '-f', '{{.Id}}', image]);
  /** Builds a version of the image (its VERSION variable), pushes it and removes it from the engine; returns its id. */
  const push = (version: string): string => {
    docker(['build', '-q', '-t', image, '-'], `FROM ${engine.image}\nENV VERSION=${version}\n`);
    const id = imageId();
    docker(['push', image]);
    docker(['rmi', image]);
    return id;
  };
  const compose = (policy?: string): string => `name: ${project}
services:
  app:
    image: ${image}
    command: ["sh", "-c", "echo version $$VERSION; exec sleep 600"]
    init: true
${policy ? `    pull_policy: ${policy}\n` : ''}`;
  const ps = async (): Promise<PsRow[]> => JSON.parse(await sb.ok(['ps', '--format', 'json'], { env })) as PsRow[];
  const version = async (): Promise<string> => (await sb.ok(['exec', '-T', 'app', 'sh', '-c', 'echo $VERSION'], { env })).trim();
  let v1 = '';
  let v2 = '';

  before(async () => {
    v1 = push('1');
  });

  after(async () => {
    await sb.run(['down'], { env, timeoutMs: 60_000 });
    try {
      docker(['rmi', '-f', image]);
    } catch {
      /* not there */
    }
    await sb.cleanup();
    await registry?.stop();
    await engine.release();
  });

  it('up pulls a missing image, showing the engine\'s progress under the service\'s name', async () => {
    sb.write('compose.yaml', compose());
    const out = await sb.ok(['up', '-d', '--wait'], { env, timeoutMs: 120_000 });
    assert.match(out, /#app .*Pulling from baton-test\/pulled/, out);
    assert.match(out, /#app Status: Downloaded newer image/, out);
    assert.match(out, /Service app\s+Pulled/);
    assert.equal(imageId(), v1);
    assert.equal(await version(), '1');
    assert.equal((await ps()).filter((r) => r.state === 'running').length, 1);
    const images = JSON.parse(await sb.ok(['images', '--format', 'json'], { env })) as { service: string; image: string; id?: string }[];
    assert.equal(images.find((i) => i.service === 'app')?.id, v1);
  });

  it('up does not pull an image that is here; baton pull fetches a newer push of the tag', async () => {
    v2 = push('2');
    assert.notEqual(v2, v1);
    // push() removed the tag from the engine; put v1 back under it, as a machine that pulled earlier has it.
    docker(['tag', v1, image]);
    // A broken Docker config does not matter to an up that pulls nothing: it is read only when a pull must happen.
    const broken = { ...env, DOCKER_CONFIG: join(sb.dir, 'broken-docker-config') };
    sb.write('broken-docker-config/config.json', '{"auths": ');
    const again = await sb.ok(['up', '-d', '--wait'], { env: broken, timeoutMs: 60_000 });
    assert.doesNotMatch(again, /Pulled/, 'present: not pulled (pull_policy: missing)');
    const refused = await sb.run(['pull', 'app'], { env: broken, timeoutMs: 60_000 });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /broken-docker-config\/config\.json: not valid JSON/, 'a pull that needs it names the broken file');
    assert.equal(await version(), '1');
    const pulled = await sb.ok(['pull', 'app'], { env, timeoutMs: 60_000 });
    assert.match(pulled, /Service app\s+Pulled/);
    assert.equal(imageId(), v2, 'the tag now names the newer push');
  });

  it('pull_policy: always pulls at every up, and the new image replaces the running task', async () => {
    docker(['tag', v1, image]); // the engine holds the old version again
    const before = (await ps()).map((r) => r.id);
    sb.write('compose.yaml', compose('always'));
    await sb.ok(['up', '-d', '--wait'], { env, timeoutMs: 120_000 });
    assert.equal(imageId(), v2);
    assert.equal(await version(), '2');
    assert.notDeepEqual((await ps()).map((r) => r.id), before, 'a new task runs the new image');
  });

  it('with the registry gone, up with pull_policy: always fails as Compose does; a missing image fails naming the service; the project stays as it was', async () => {
    await registry!.stop();
    const running = (await ps()).map((r) => r.id);
    const always = await sb.run(['up', '-d', '--wait'], { env, timeoutMs: 60_000 });
    assert.notEqual(always.code, 0);
    assert.match(always.stderr, /service "app": image ".*" could not be pulled \(pull_policy: always\): .*connection refused/);
    sb.write('compose.yaml', compose() + `  other:\n    image: ${registry!.address}/baton-test/never-pushed:1\n    command: ["sleep", "600"]\n`);
    const r = await sb.run(['up', '-d'], { env, timeoutMs: 60_000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /service "other": image ".*never-pushed:1" is not present on this node and could not be pulled/);
    for (const e of [always, r]) assert.doesNotMatch(e.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual((await ps()).map((x) => x.id), running, 'app untouched');
    assert.equal(await version(), '2');
  });

  it('a task restarted while the registry is gone runs from the copy here, even with pull_policy: always', async () => {
    const [task] = (await ps()).filter((r) => r.service === 'app' && r.state === 'running');
    sb.write('compose.yaml', compose('always'));
    await sb.ok(['restart', 'app'], { env, timeoutMs: 60_000 });
    const fresh = async (): Promise<PsRow[]> => (await ps()).filter((r) => r.service === 'app' && r.state === 'running' && r.id + r.startedAt !== task.id + task.startedAt);
    await waitFor(async () => (await fresh()).length === 1, 30_000, 'app restarted and running').catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify((await ps()).map((r) => [r.state, r.error]))}`);
    });
    assert.equal(await version(), '2');
  });
});

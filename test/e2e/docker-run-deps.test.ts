// `baton run` on a project that is not up, as `docker compose run` works: the
// services it depends on are started (and waited for, healthy), the service
// itself gets no replicas of its own, and stdout is the command's alone;
// --no-deps starts nothing else.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dockerForTests } from '../helpers/docker.js';
import { Sandbox, type PsRow } from '../helpers/baton.js';

const engine = await dockerForTests();

describe('run starts what the service depends on', { skip: engine.skip }, () => {
  const sb = new Sandbox();
  const project = `rd${process.pid}`;
  const env = (): Record<string, string> => ({ DOCKER_HOST: engine.host });
  const ps = async (): Promise<PsRow[]> => JSON.parse(await sb.ok(['ps', '--format', 'json'], { env: env() })) as PsRow[];
  const containers = (): string[] => execFileSync('docker', ['ps', '-aq', '--filter', `label=com.baton.project=${project}`], { env: { ...process.env, DOCKER_HOST: engine.host }, encoding: 'utf8' }).split('\n').filter(Boolean);
  const file = `name: ${project}
services:
  db:
    image: ${engine.image}
    command: ["sh", "-c", "mkdir -p /www && echo ready > /www/health && exec httpd -f -p 5432 -h /www"]
    init: true
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1:5432/health"]
      interval: 1s
  app:
    image: ${engine.image}
    command: ["sleep", "3600"]
    init: true
    depends_on:
      db: {condition: service_healthy}
`;

  after(async () => {
    await sb.run(['down'], { env: env() });
    await sb.cleanup();
    await engine.release();
  });

  it('--no-deps on a fresh project starts nothing else', async () => {
    sb.write('compose.yaml', file);
    const r = await sb.run(['run', '--rm', '--no-deps', 'app', 'echo', 'alone'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'alone\n');
    assert.deepEqual((await ps()).filter((t) => t.state === 'running'), [], 'no db, no app replica');
    await sb.ok(['down'], { env: env() });
  });

  it('on a fresh project: db is started and healthy first, app has no replica, stdout is the command\'s', async () => {
    const r = await sb.run(['run', '--rm', 'app', 'sh', '-c', 'wget -qO- http://db:5432/health; exit 5'], { env: env(), timeoutMs: 120_000 });
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stdout, 'ready\n', 'db answered by name before the command ran');
    const running = (await ps()).filter((t) => t.state === 'running');
    assert.deepEqual(running.map((t) => [t.service, t.health]), [['db', 'healthy']]);
    assert.equal(containers().length, 1, '--rm: only db\'s container is left');
    // Again: db is up, nothing is deployed, the service is not touched.
    const again = await sb.run(['run', '--rm', 'app', 'echo', 'again'], { env: env() });
    assert.equal(again.stdout, 'again\n');
    assert.equal(again.stderr.includes('Created'), false);
  });

  it('after up, run leaves the service\'s own replicas as they are', async () => {
    await sb.ok(['up', '-d', '--wait'], { env: env() });
    const before = (await ps()).filter((t) => t.service === 'app' && t.state === 'running').map((t) => t.id);
    assert.equal(before.length, 1);
    assert.equal((await sb.run(['run', '--rm', 'app', 'echo', 'ok'], { env: env() })).stdout, 'ok\n');
    assert.deepEqual((await ps()).filter((t) => t.service === 'app' && t.state === 'running').map((t) => t.id), before);
  });
});

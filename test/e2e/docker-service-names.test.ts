// Service VIPs and baton's DNS on a lone daemon (`baton daemon --service-subnet`):
// containers of a project find a service by one stable address, and each of
// its tasks under tasks.<name>, as in Swarm mode; a second project's service of
// the same name is another service. Root only (addresses on lo).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { dockerForTests } from '../helpers/docker.js';
import { Sandbox, waitFor } from '../helpers/baton.js';

const engine = await dockerForTests();
const root = process.getuid?.() === 0;
if (!root && process.env.CI === 'true') throw new Error('service-name e2e needs root in CI');
const skip = engine.skip ?? (root ? undefined : 'needs root (addresses on lo)');

describe('service VIPs and DNS on one machine', { skip: skip ? `skipped: ${skip}` : false }, () => {
  const sb = new Sandbox();
  const block = `10.218.${process.pid % 250}`;
  let daemon: ChildProcess;
  const projects = [`vipa${process.pid}`, `vipb${process.pid}`];
  const env = { DOCKER_HOST: engine.host };
  const exec = (project: string, cmd: string): Promise<string> => sb.ok(['exec', '-p', project, '-T', 'client', 'sh', '-c', cmd], { env, timeoutMs: 20_000 });
  const lookup = async (project: string, name: string): Promise<string[]> => {
    const out = await exec(project, `nslookup ${name} 2>&1 || true`);
    return [...out.split(/\nName:/).slice(1).join('\n').matchAll(/Address(?: \d+)?:\s+(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]).sort();
  };
  const compose = (project: string, replicas: number): string => `name: ${project}
services:
  web:
    image: ${engine.image}
    command: ["sh", "-c", "echo ${project} $$(hostname) > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
    init: true
    expose: ["8080"]
    deploy: {replicas: ${replicas}}
  client:
    image: ${engine.image}
    command: ["sleep", "600"]
    init: true
`;

  before(async () => {
    daemon = sb.spawn(['daemon', '--service-subnet', `${block}.0/24`], { env });
    await waitFor(async () => (JSON.parse(await sb.ok(['version', '--format', 'json'], { env })) as { daemon: unknown }).daemon !== null, 20_000, 'the daemon');
    for (const [i, p] of projects.entries()) {
      sb.write(`${p}.yaml`, compose(p, i === 0 ? 2 : 1));
      await sb.ok(['-f', `${p}.yaml`, 'up', '-d', '--wait'], { env, timeoutMs: 90_000 });
    }
  });

  after(async () => {
    for (const p of projects) await sb.run(['down', '-p', p], { env, timeoutMs: 60_000 });
    daemon?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    await sb.cleanup();
    await engine.release();
  });

  it('web is one address from the block, reached at its port and balanced over both replicas', async () => {
    const [vip, ...more] = await lookup(projects[0], 'web');
    assert.equal(more.length, 0);
    assert.ok(vip.startsWith(`${block}.`), `${vip} comes from the daemon's block`);
    const seen = new Set<string>();
    await waitFor(async () => {
      seen.add((await exec(projects[0], 'wget -q -O - http://web:8080/')).trim());
      return seen.size === 2;
    }, 15_000, 'answers from both replicas');
    for (const s of seen) assert.match(s, new RegExp(`^${projects[0]} `));
  });

  it('tasks.web is one address per replica, and the other project\'s web is its own', async () => {
    assert.equal((await lookup(projects[0], 'tasks.web')).length, 2);
    const other = await lookup(projects[1], 'web');
    assert.equal(other.length, 1);
    assert.notDeepEqual(other, await lookup(projects[0], 'web'));
    assert.match(await exec(projects[1], 'wget -q -O - http://web:8080/'), new RegExp(`^${projects[1]} `));
  });

  it('a container of one project cannot reach the other project\'s VIP, as separate Compose networks keep them apart', async () => {
    const [vipA] = await lookup(projects[0], 'web');
    const tried = await exec(projects[1], `timeout 3 wget -q -O - http://${vipA}:8080/ 2>&1; echo "exit=$?"`);
    assert.doesNotMatch(tried, new RegExp(projects[0]), 'no answer from the other project');
    assert.match(tried, /exit=[1-9]/);
    assert.match(await exec(projects[0], `timeout 3 wget -q -O - http://${vipA}:8080/`), new RegExp(`^${projects[0]} `), 'its own project still gets in');
  });
});

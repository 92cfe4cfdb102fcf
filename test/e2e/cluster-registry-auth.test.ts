// `--with-registry-auth` in a cluster, as with `docker stack deploy`: the
// manager (a network namespace, no Docker engine) keeps the credentials the
// CLI sends, sealed, and the agent on host R (this machine's engine) pulls a
// private image from a registry that asks for them. Without the flag the
// agent's pull is refused and the task says why; `down` forgets them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Sandbox, waitFor, type PsRow } from '../helpers/baton.js';
import { dockerForTests } from '../helpers/docker.js';
import { registryForTests, type TestRegistry } from '../helpers/registry.js';
import { NetnsLab, netnsUnavailable } from '../helpers/netns.js';
import type { NodeInfo } from '../../src/model/types.js';

const why = netnsUnavailable();
if (why && process.env.CI === 'true') throw new Error(`cluster registry-auth e2e cannot run in CI: ${why}`);
const engine = why ? undefined : await dockerForTests();
const registry: TestRegistry | undefined = why || engine?.skip ? undefined : await registryForTests({ users: { bob: 'hunter2' } });
const skip = why ?? engine?.skip ?? registry?.skip;

describe('private images on an agent, with the credentials a deploy sent', { skip: skip ? `skipped: ${skip}` : false }, () => {
  let lab: NetnsLab;
  const mgr = new Sandbox();
  const hostR = new Sandbox();
  const children: ChildProcess[] = [];
  const project = `rauth${process.pid}`;
  const image = `${registry?.address}/private/agent-pull:${process.pid}`;
  const dockerConfig = join(mgr.dir, '.docker');
  // The manager has no engine, whatever this machine has: the pull must happen on the agent.
  const mgrEnv = { DOCKER_CONFIG: dockerConfig, DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
  const docker = (args: string[], input?: string): string =>
    execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: engine!.host, DOCKER_CONFIG: dockerConfig, DOCKER_BUILDKIT: '0' }, encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] }).trim();
  const ps = async (): Promise<PsRow[]> => JSON.parse(await mgr.ok(['ps', '-a', '--format', 'json'], { env: mgrEnv })) as PsRow[];

  before(async () => {
    lab = new NetnsLab(1);
    const [hm] = lab.hosts;
    children.push(lab.baton(hm, ['manager', '--listen-addr', `${hm.ip}:2377`, '--service-subnet', 'none'], mgr.env(mgrEnv)));
    await waitFor(async () => (JSON.parse(await mgr.ok(['version', '--format', 'json'], { env: mgrEnv })) as { daemon: unknown }).daemon !== null, 20_000, 'the manager');
    const token = (await mgr.ok(['join-token', 'worker', '-q'], { env: mgrEnv })).trim();
    children.push(hostR.spawn(['agent', '--join', `${hm.ip}:2377`, '--token', token, '--advertise-addr', lab.gateway, '--label', 'host=r', '--driver', 'docker', '--service-subnet', 'none'], { env: { DOCKER_HOST: engine!.host } }));
    await waitFor(async () => (JSON.parse(await mgr.ok(['node', 'ls', '--format', 'json'], { env: mgrEnv })) as NodeInfo[]).filter((n) => n.state === 'ready').length === 2, 30_000, 'two ready nodes');
    // The Docker CLI logs in and pushes; baton reads the same config.json.
    docker(['login', '-u', 'bob', '--password-stdin', registry!.address], 'hunter2\n');
    docker(['build', '-q', '-t', image, '-'], `FROM ${engine!.image}\nENV SECRET_IMAGE=yes\n`);
    docker(['push', image]);
    docker(['rmi', image]);
    mgr.write('compose.yaml', `name: ${project}
services:
  app:
    image: ${image}
    command: ["sh", "-c", "echo private $$SECRET_IMAGE; exec sleep 600"]
    init: true
    configs: [{source: greeting, target: /greeting}]
    deploy:
      placement:
        constraints: ["node.labels.host==r"]
configs:
  greeting:
    content: hello from the manager
`);
  });

  after(async () => {
    await mgr.run(['down'], { env: mgrEnv, timeoutMs: 60_000 }).catch(() => undefined);
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    lab?.cleanup();
    try {
      docker(['rmi', '-f', image]);
    } catch {
      /* not there */
    }
    await Promise.all([mgr.cleanup(), hostR.cleanup()]);
    await registry?.stop();
    await engine?.release();
  });

  it('without --with-registry-auth the agent cannot pull the private image, and the task says why', async () => {
    await mgr.ok(['up', '-d'], { env: mgrEnv, timeoutMs: 60_000 });
    await waitFor(async () => (await ps()).some((t) => /could not be pulled.*(no basic auth credentials|unauthorized)/i.test(t.error ?? '')), 30_000, 'the refused pull in ps').catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify((await ps()).map((t) => [t.state, t.error]))}`);
    });
    assert.equal((await ps()).filter((t) => t.state === 'running').length, 0);
  });

  it('with --with-registry-auth the agent pulls it with the sent credentials and runs it', async () => {
    await mgr.ok(['up', '-d', '--wait', '--with-registry-auth'], { env: mgrEnv, timeoutMs: 120_000 });
    const running = (await ps()).filter((t) => t.state === 'running');
    assert.equal(running.length, 1);
    const nodes = JSON.parse(await mgr.ok(['node', 'ls', '--format', 'json'], { env: mgrEnv })) as NodeInfo[];
    assert.equal(nodes.find((n) => n.id === running[0].node)?.address, lab.gateway, 'it runs on host R');
    assert.match(await mgr.ok(['logs', '--no-log-prefix', 'app'], { env: mgrEnv }), /private yes/);
  });

  it('run through a manager without an engine starts the one-off container on a node that can, with the service\'s configs and credentials', async () => {
    // R then runs no task of the project, so only the run itself lets it have the service's config and the deploy's credentials;
    // and the image is gone from R's engine, so the one-off container must pull it again, with them.
    // pause and unpause through the manager reach the container on R.
    const onRContainer = docker(['ps', '-q', '--filter', `label=com.baton.project=${project}`]).split('\n')[0];
    assert.match(await mgr.ok(['pause', 'app'], { env: mgrEnv }), /Paused/);
    assert.equal(docker(['inspect', '-f', '{{.State.Paused}}', onRContainer]), 'true');
    assert.match(await mgr.ok(['unpause', 'app'], { env: mgrEnv }), /Unpaused/);
    assert.equal(docker(['inspect', '-f', '{{.State.Paused}}', onRContainer]), 'false');
    // kill -s through the manager reaches the task on R (its sleep dies of SIGUSR1).
    const [onR] = (await ps()).filter((t) => t.state === 'running');
    assert.match(await mgr.ok(['kill', '-s', 'USR1', 'app'], { env: mgrEnv }), /Killed/);
    await waitFor(async () => (await ps()).some((t) => t.id === onR.id && t.state !== 'running'), 20_000, 'the signal reached the task on R');
    await mgr.ok(['scale', 'app=0'], { env: mgrEnv });
    await waitFor(async () => (await ps()).every((t) => t.state !== 'running'), 30_000, 'app scaled to 0');
    docker(['rmi', '-f', image]);
    const r = await mgr.run(['run', '--rm', '-e', 'X=one-off', 'app', 'sh', '-c', 'echo "$X $SECRET_IMAGE $(cat /greeting)"; exit 4'], { env: mgrEnv, timeoutMs: 120_000 });
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, 'one-off yes hello from the manager\n');
    assert.equal(docker(['ps', '-aq', '--filter', `label=com.baton.project=${project}`, '--filter', 'status=running']), '', '--rm: nothing of the project runs on R');
    const bad = await mgr.run(['run', '--rm', 'nope', 'true'], { env: mgrEnv });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /no such service: nope/);
  });

  it('down forgets the credentials: the next deploy without the flag cannot pull again', async () => {
    await mgr.ok(['down'], { env: mgrEnv, timeoutMs: 60_000 });
    docker(['rmi', image]);
    await mgr.ok(['up', '-d'], { env: mgrEnv, timeoutMs: 60_000 });
    await waitFor(async () => (await ps()).some((t) => /could not be pulled/i.test(t.error ?? '')), 30_000, 'the refused pull after down').catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify((await ps()).map((t) => [t.state, t.error]))}; images on R: ${docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])}`);
    });
  });
});

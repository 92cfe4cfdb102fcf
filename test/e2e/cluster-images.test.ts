// Issue 4 in a cluster: an image built on the manager (`build:`) runs on an
// agent whose engine never had it; the agent copies it from the manager's
// engine, no registry involved. Two engines on this machine stand for two
// machines: the shared test engine is the agent's, a second one the manager's.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Sandbox, freePort, waitFor } from '../helpers/baton.js';
import { dockerForTests, extraEngine, type ExtraEngine } from '../helpers/docker.js';
import type { NodeInfo, Task } from '../../src/model/types.js';

const engine = await dockerForTests();
const root = process.getuid?.() === 0;
if (!root && process.env.CI === 'true') throw new Error('cluster image e2e cannot run in CI: needs root (a second dockerd)');
const skip = engine.skip ?? (root ? undefined : 'needs root (a second dockerd)');

describe('an image built on the manager runs on an agent that never had it', { skip: skip ? `skipped: ${skip}` : false }, () => {
  const mgr = new Sandbox();
  const agentHome = new Sandbox();
  let managerEngine: ExtraEngine;
  const children: ChildProcess[] = [];
  const project = `imgship${process.pid}`;
  const tag = `${project}-app`;

  const nodes = async (): Promise<NodeInfo[]> => JSON.parse(await mgr.ok(['node', 'ls', '--format', 'json'])) as NodeInfo[];
  const tasks = async (): Promise<Task[]> => JSON.parse(await mgr.ok(['ps', '--format', 'json', '-p', project])) as Task[];

  before(async () => {
    managerEngine = await extraEngine('mgr', '10.204.0.0/16');
    const port = await freePort();
    // Both nodes share this machine's network: no service VIPs (they would claim the same addresses twice).
    children.push(mgr.spawn(['manager', '--listen-addr', `127.0.0.1:${port}`, '--service-subnet', 'none'], { env: { DOCKER_HOST: managerEngine.host } }));
    await waitFor(async () => (JSON.parse(await mgr.ok(['version', '--format', 'json'])) as { daemon: unknown }).daemon !== null, 20_000, 'the manager');
    const token = (await mgr.ok(['join-token', 'worker', '-q'])).trim();
    children.push(agentHome.spawn(['agent', '--join', `127.0.0.1:${port}`, '--token', token, '--advertise-addr', '127.0.0.1', '--label', 'host=agent', '--driver', 'docker', '--service-subnet', 'none'], { env: { DOCKER_HOST: engine.host } }));
    await waitFor(async () => (await nodes()).filter((n) => n.state === 'ready' && n.drivers.includes('docker')).length === 2, 30_000, 'two ready nodes with an engine');
    await engine.docker.getImage(tag).remove({ force: true }).catch(() => undefined);
    mgr.write('hello.txt', 'built on the manager\n');
    mgr.write('Dockerfile', `FROM ${engine.image}\nCOPY hello.txt /hello.txt\n`);
    mgr.write(
      'compose.yaml',
      `name: ${project}
services:
  app:
    build: .
    command: ["sh", "-c", "cat /hello.txt; sleep 600"]
    volumes: ["data:/data"]
    deploy:
      placement:
        constraints: ["node.labels.host==agent"]
volumes:
  data: {}
`,
    );
  });

  after(async () => {
    await mgr.run(['down'], { timeoutMs: 30_000 }).catch(() => undefined);
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    await engine.docker.getImage(tag).remove({ force: true }).catch(() => undefined);
    await managerEngine?.stop();
    await Promise.all([mgr.cleanup(), agentHome.cleanup()]);
    await engine.release();
  });

  it('builds on the manager\'s engine, copies the image to the agent\'s, and runs it there', async () => {
    await mgr.ok(['up', '-d'], { timeoutMs: 120_000 });
    assert.ok(await managerEngine.docker.getImage(tag).inspect().then(() => true, () => false), 'built on the manager');
    await waitFor(async () => (await tasks()).some((t) => t.service === 'app' && t.state === 'running'), 60_000, 'app running on the agent');
    const agentNode = (await nodes()).find((n) => n.labels.host === 'agent')!;
    assert.equal((await tasks()).find((t) => t.service === 'app' && t.state === 'running')?.node, agentNode.id);
    assert.ok(await engine.docker.getImage(tag).inspect().then(() => true, () => false), 'the agent\'s engine has the image now');
    await waitFor(async () => (await mgr.ok(['logs', '--no-log-prefix', '-p', project, 'app'])).includes('built on the manager'), 20_000, 'the built file in the container');
  });

  it('an image no node has is refused at up, naming the service, and what runs stays', async () => {
    mgr.write('missing.yaml', `services:\n  missing:\n    image: ${project}-nowhere:1\n    pull_policy: never\n    command: ["sleep", "600"]\n`);
    const r = await mgr.run(['-f', 'compose.yaml', '-f', 'missing.yaml', 'up', '-d'], { timeoutMs: 60_000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /missing/);
    assert.match(r.stderr, /nowhere/);
    assert.deepEqual((await tasks()).filter((t) => t.state === 'running').map((t) => t.service), ['app']);
  });

  it('down removes the project\'s network from the agent\'s engine too, and with -v its volume', async () => {
    const has = async (kind: 'network' | 'volume', name: string): Promise<boolean> =>
      (kind === 'network' ? engine.docker.getNetwork(name).inspect() : engine.docker.getVolume(name).inspect()).then(() => true, () => false);
    assert.ok(await has('network', `${project}_default`));
    assert.ok(await has('volume', `${project}_data`));
    await mgr.ok(['down'], { timeoutMs: 60_000 });
    assert.equal(await has('network', `${project}_default`), false, 'the network went with down');
    assert.ok(await has('volume', `${project}_data`), 'the volume stays without -v');
    await mgr.ok(['down', '-v', '-p', project], { timeoutMs: 60_000 });
    assert.equal(await has('volume', `${project}_data`), false, 'down -v removed it on the agent');
  });
});

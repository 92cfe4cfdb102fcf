// exec attached to a container on another node: the manager has no engine,
// the agent (in a network namespace of its own) has one, so the containers run
// there; `baton exec` against the manager relays stdin, the TTY and the exit
// code through the agent's own port.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { NodeInfo, Task } from '../../src/model/types.js';
import { dockerForTests } from '../helpers/docker.js';
import { Sandbox, waitFor } from '../helpers/baton.js';
import { NetnsLab, netnsUnavailable, type NetnsHost } from '../helpers/netns.js';
import { inTerminal, shQuote } from '../helpers/terminal.js';

const engine = await dockerForTests();
const why = netnsUnavailable();
if (why && process.env.CI === 'true') throw new Error(`cluster e2e cannot run in CI: ${why}`);

describe('exec attached to a container on another node', { skip: engine.skip ?? (why ? `skipped: ${why}` : false) }, () => {
  let lab: NetnsLab;
  const mgr = new Sandbox();
  const node = new Sandbox();
  let manager: ChildProcess;
  let agent: ChildProcess;
  let hm: NetnsHost;
  let ha: NetnsHost;
  const project = `ca${process.pid}`;
  const nodes = async (): Promise<NodeInfo[]> => JSON.parse(await mgr.ok(['node', 'ls', '--format', 'json'])) as NodeInfo[];

  before(async () => {
    lab = new NetnsLab(2);
    [hm, ha] = lab.hosts;
    // The manager looks for an engine where there is none: every container runs on the agent.
    manager = lab.baton(hm, ['manager', '--listen-addr', `${hm.ip}:2377`], { ...mgr.env(), DOCKER_HOST: `unix://${join(mgr.dir, 'no-engine.sock')}` });
    await waitFor(async () => (JSON.parse(await mgr.ok(['version', '--format', 'json'])) as { daemon: unknown }).daemon !== null, 20_000, 'the manager');
    const token = (await mgr.ok(['join-token', 'worker', '-q'])).trim();
    agent = lab.baton(ha, ['agent', '--join', `${hm.ip}:2377`, '--token', token, '--advertise-addr', ha.ip], { ...node.env(), DOCKER_HOST: engine.host });
    await waitFor(async () => (await nodes()).some((n) => n.address === ha.ip && n.state === 'ready' && n.drivers.includes('docker')), 30_000, 'the agent with its engine');
    mgr.write('compose.yaml', `name: ${project}\nservices:\n  app:\n    image: ${engine.image}\n    command: ["sh", "-c", "exec sleep 100000"]\n    init: true\n`);
    await mgr.ok(['up', '-d', '--wait'], { timeoutMs: 120_000 });
  });

  after(async () => {
    await mgr.run(['down'], { timeoutMs: 60_000 }).catch(() => undefined);
    for (const c of [agent, manager]) c?.kill('SIGTERM');
    lab?.cleanup();
    await Promise.all([mgr.cleanup(), node.cleanup()]);
    await engine.release();
  });

  it('runs on the agent\'s node', async () => {
    const tasks = JSON.parse(await mgr.ok(['ps', '--format', 'json'])) as Task[];
    const agentId = (await nodes()).find((n) => n.address === ha.ip)!.id;
    assert.deepEqual(tasks.map((t) => `${t.service}:${t.node === agentId}:${t.state}`), ['app:true:running']);
  });

  it('stdin without a TTY, stdout and stderr apart, the exit code', async () => {
    assert.equal(await mgr.ok(['exec', '-T', 'app', 'cat'], { input: 'through the manager\n' }), 'through the manager\n');
    const r = await mgr.run(['exec', '-T', 'app', 'sh', '-c', 'echo out; echo err >&2; exit 6']);
    assert.equal(r.code, 6);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  it('a TTY, what is typed, and the exit code', async () => {
    const r = await inTerminal(`$BATON exec app sh -c ${shQuote('tty; read x; echo "remote-got:$x"; exit 5')}`, 'typed far away\n', { cwd: mgr.dir, env: mgr.env() });
    assert.equal(r.code, 5, r.stdout);
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r?$/m);
    assert.match(r.stdout, /remote-got:typed far away\r?$/m);
  });
});

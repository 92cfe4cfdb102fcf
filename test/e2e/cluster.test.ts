// Issue 5 end to end: a manager and two agents, each in its own network
// namespace (a host of its own), joined over mutual TLS; placement with
// spread, constraints and a global service; a node that stops answering has
// its tasks moved, and when it comes back runs nothing twice; drain; and who
// may join or talk to the manager.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, alive, httpGet, tlsCall, waitFor } from '../helpers/baton.js';
import { NetnsLab, netnsUnavailable, type NetnsHost } from '../helpers/netns.js';
import type { NodeInfo, Task } from '../../src/model/types.js';

const SERVER = `
import http from 'node:http';
http.createServer((req, res) => res.end(JSON.stringify({ slot: process.env.BATON_SLOT, pid: process.pid }))).listen(Number(process.env.PORT), () => console.log('listening ' + process.env.BATON_SLOT));
process.on('SIGTERM', () => process.exit(0));
`;
const PUBLISHED = 18080;

const why = netnsUnavailable();
if (why && process.env.CI === 'true') throw new Error(`cluster e2e cannot run in CI: ${why}`);

describe('a cluster of three network-namespace hosts', { skip: why ? `skipped: ${why}` : false }, () => {
  let lab: NetnsLab;
  const mgr = new Sandbox();
  const nodeA = new Sandbox();
  const nodeB = new Sandbox();
  let manager: ChildProcess;
  let agentA: ChildProcess;
  let agentB: ChildProcess;
  let hm: NetnsHost;
  let ha: NetnsHost;
  let hb: NetnsHost;
  let token = '';
  const project = 'clu';
  const logs = new Map<string, string>();

  const capture = (name: string, c: ChildProcess): ChildProcess => {
    logs.set(name, '');
    const add = (d: Buffer): void => void logs.set(name, (logs.get(name) ?? '') + d.toString());
    c.stdout?.on('data', add);
    c.stderr?.on('data', add);
    return c;
  };
  const nodes = async (): Promise<NodeInfo[]> => JSON.parse(await mgr.ok(['node', 'ls', '--format', 'json'])) as NodeInfo[];
  const tasks = async (all = false): Promise<Task[]> => JSON.parse(await mgr.ok(['ps', ...(all ? ['-a'] : []), '--format', 'json', '-p', project])) as Task[];
  const idOf = async (hostIp: string): Promise<string> => (await nodes()).find((n) => n.address === hostIp)!.id;
  const startAgent = (sb: Sandbox, host: NetnsHost, extra: string[]): ChildProcess =>
    capture(`agent ${host.ip}`, lab.baton(host, ['agent', '--join', `${hm.ip}:2377`, '--token', token, '--advertise-addr', host.ip, ...extra], sb.env()));
  /** Without starting a daemon of its own, as `node ls` would when none answers yet. */
  const managerUp = async (sb: Sandbox): Promise<boolean> => (JSON.parse(await sb.ok(['version', '--format', 'json'])) as { daemon: unknown }).daemon !== null;
  const exited = (c: ChildProcess): Promise<number | null> => new Promise((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));

  before(async () => {
    lab = new NetnsLab(3);
    [hm, ha, hb] = lab.hosts;
    manager = capture('manager', lab.baton(hm, ['manager', '--listen-addr', `${hm.ip}:2377`, '--heartbeat-timeout', '2s'], mgr.env()));
    await waitFor(() => managerUp(mgr), 20_000, 'the manager');
    token = (await mgr.ok(['join-token', 'worker', '-q'])).trim();
    assert.match(token, /^BATON-1-[0-9a-f]{64}-/);
    agentA = startAgent(nodeA, ha, ['--label', 'zone=a']);
    agentB = startAgent(nodeB, hb, ['--label', 'zone=b']);
    await waitFor(async () => (await nodes()).filter((n) => n.state === 'ready').length === 3, 20_000, 'three ready nodes');
    mgr.write('server.mjs', SERVER);
    mgr.write(
      'compose.yaml',
      `name: ${project}
x-baton: {driver: process}
services:
  web:
    command: ["node", "server.mjs"]
    ports: ["${PUBLISHED}:8080"]
    deploy:
      replicas: 3
  pinned:
    command: ["sleep", "600"]
    deploy:
      placement:
        constraints: ["node.labels.zone==b"]
  agent:
    command: ["sleep", "600"]
    deploy:
      mode: global
`,
    );
  });

  after(async () => {
    await mgr.run(['down'], { timeoutMs: 30_000 }).catch(() => undefined);
    lab?.cleanup();
    for (const [name, text] of logs) if (process.env.BATON_TEST_VERBOSE) console.log(`--- ${name}\n${text}`);
    await Promise.all([mgr.cleanup(), nodeA.cleanup(), nodeB.cleanup()]);
  });

  it('lists the joined nodes with their roles, labels and addresses', async () => {
    const list = await nodes();
    const byIp = new Map(list.map((n) => [n.address, n]));
    assert.equal(byIp.get(hm.ip)?.role, 'manager');
    assert.equal(byIp.get(ha.ip)?.role, 'worker');
    assert.deepEqual(byIp.get(ha.ip)?.labels, { zone: 'a' });
    assert.deepEqual(byIp.get(hb.ip)?.labels, { zone: 'b' });
    assert.ok(byIp.get(hb.ip)!.drivers.includes('process'));
    const table = await mgr.ok(['node', 'ls']);
    assert.match(table, /ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY/);
    assert.equal(table.trim().split('\n').length, 4);
  });

  it('places replicas spread over the nodes, a constrained service on its zone, a global service on every node', async () => {
    await mgr.ok(['up', '-d', '--wait'], { timeoutMs: 60_000 });
    const [m, a, b] = [await idOf(hm.ip), await idOf(ha.ip), await idOf(hb.ip)];
    const ts = await tasks();
    const on = (svc: string): string[] => ts.filter((t) => t.service === svc && t.state === 'running').map((t) => t.node!).sort();
    assert.deepEqual(on('web'), [m, a, b].sort(), 'one web replica per node');
    assert.deepEqual(on('pinned'), [b], 'pinned runs on zone b only');
    assert.deepEqual(on('agent'), [m, a, b].sort(), 'one global task per node');
    const table = await mgr.ok(['ps', '-p', project]);
    assert.match(table, /NAME\s+ID\s+SERVICE\s+NODE\s+STATUS/, 'a NODE column in a cluster');
    assert.ok(table.includes(`(${b})`));
    const listed = (JSON.parse(await mgr.ok(['ls', '--format', 'json'])) as { name: string; running: number; desired: number }[]).find((p) => p.name === project)!;
    assert.deepEqual([listed.running, listed.desired], [7, 7], 'ls counts the global service once per node: 3 web + 1 pinned + 3 agent');
  });

  it('answers on the published port of every node, from tasks on any node', async () => {
    for (const h of [hm, ha, hb]) {
      const slots = new Set<string>();
      await waitFor(async () => {
        const r = await httpGet(`http://${h.ip}:${PUBLISHED}/`).catch(() => undefined);
        if (r?.status === 200) slots.add((JSON.parse(r.body) as { slot: string }).slot);
        return slots.size === 3;
      }, 15_000, `all three replicas through ${h.ip}:${PUBLISHED}`);
    }
  });

  it("reads the logs of tasks on other nodes through their agents", async () => {
    const b = await idOf(hb.ip);
    const onB = (await tasks()).find((t) => t.service === 'web' && t.node === b)!;
    await waitFor(async () => (await mgr.ok(['logs', '-p', project, 'web'])).includes(`listening ${onB.slot}`), 10_000, 'the log line of the task on node b');
    // The node's agent answers for its task's driver: a process task has no container to exec in.
    const ex = await mgr.run(['exec', '-p', project, '--index', String(onB.slot), 'web', 'true']);
    assert.equal(ex.code, 126, 'as docker exec when the command cannot be run');
    assert.match(ex.stderr, /exec needs a container; this task runs on the process driver/);
  });

  it('moves the tasks of a node that stops answering, and stops them there when it comes back', async () => {
    const b = await idOf(hb.ip);
    const before = await tasks();
    const webOnB = before.find((t) => t.service === 'web' && t.node === b)!;
    const pinnedOnB = before.find((t) => t.service === 'pinned')!;
    assert.ok(webOnB.pid && alive(webOnB.pid));
    // Frozen, not killed: the node's tasks keep running while the manager cannot hear it.
    const t0 = Date.now();
    agentB.kill('SIGSTOP');
    await waitFor(async () => {
      const ts = await tasks();
      return ts.some((t) => t.service === 'web' && t.slot === webOnB.slot && t.id !== webOnB.id && t.state === 'running');
    }, 20_000, "web's slot running again on another node");
    const failover = Date.now() - t0;
    assert.ok(failover < 10_000, `failover took ${failover} ms`);
    const down = (await nodes()).find((n) => n.id === b)!;
    assert.equal(down.state, 'down');
    const ts = await tasks();
    const pinned = ts.find((t) => t.service === 'pinned')!;
    assert.equal(pinned.state, 'pending', 'pinned has nowhere else to go');
    assert.match(pinned.message ?? '', /no suitable node/);
    const events = await mgr.ok(['events', '--since', '0', '--no-follow', '-p', project]);
    assert.match(events, /task\.pending clu\/pinned .*no suitable node/, 'the reason is in the events too');
    assert.ok(ts.filter((t) => t.service === 'agent' && t.state === 'running').every((t) => t.node !== b), 'no global task counted on the down node');
    // Still running on the frozen node, unseen: the slot runs twice until it returns.
    assert.ok(alive(webOnB.pid!));

    agentB.kill('SIGCONT');
    await waitFor(() => !alive(webOnB.pid!) && !alive(pinnedOnB.pid!), 15_000, 'the moved task stopped on the returning node');
    await waitFor(async () => (await nodes()).find((n) => n.id === b)!.state === 'ready', 10_000, 'node b ready again');
    await waitFor(async () => (await tasks()).some((t) => t.service === 'pinned' && t.state === 'running' && t.node === b), 15_000, 'pinned back on b');
    const web = (await tasks()).filter((t) => t.service === 'web' && t.desiredState === 'running');
    assert.deepEqual(web.map((t) => t.slot).sort(), [1, 2, 3], 'each slot once');
  });

  it('survives a kill -9 of the manager: agents keep their tasks and reattach', async () => {
    const [a, b] = [await idOf(ha.ip), await idOf(hb.ip)];
    const remoteBefore = (await tasks()).filter((t) => t.desiredState === 'running' && (t.node === a || t.node === b));
    assert.ok(remoteBefore.length >= 4);
    manager.kill('SIGKILL');
    await exited(manager);
    // Longer than the heartbeat timeout: the agents keep running what they have meanwhile.
    await new Promise((r) => setTimeout(r, 2500));
    for (const t of remoteBefore) assert.ok(alive(t.pid!), `task ${t.service}.${t.slot} kept running while the manager was away`);
    manager = capture('manager again', lab.baton(hm, ['manager', '--listen-addr', `${hm.ip}:2377`, '--heartbeat-timeout', '2s'], mgr.env()));
    await waitFor(() => managerUp(mgr), 20_000, 'the manager again');
    await waitFor(async () => (await nodes()).every((n) => n.state === 'ready'), 15_000, 'every node ready again');
    // Past a heartbeat timeout after the restart, nothing of the agents' was replaced.
    await new Promise((r) => setTimeout(r, 3000));
    const after = await tasks();
    for (const t of remoteBefore) {
      const now = after.find((x) => x.id === t.id);
      assert.equal(now?.state, 'running', `task ${t.service}.${t.slot} on ${t.node} still the running one`);
      assert.ok(alive(t.pid!));
    }
    await waitFor(async () => (await tasks()).filter((t) => t.service === 'web' && t.state === 'running').length === 3, 20_000, 'web at 3 replicas');
  });

  it('drains a node: its replicas move elsewhere and its global task stops', async () => {
    const a = await idOf(ha.ip);
    await mgr.ok(['node', 'update', '--availability', 'drain', a]);
    await waitFor(async () => {
      const ts = await tasks();
      const live = ts.filter((t) => t.desiredState === 'running');
      return live.every((t) => t.node !== a) && live.filter((t) => t.service === 'web' && t.state === 'running').length === 3;
    }, 20_000, 'node a drained with web back at 3 replicas');
    assert.equal((await nodes()).find((n) => n.id === a)!.availability, 'drain');
    await mgr.ok(['node', 'update', '--availability', 'active', a]);
    await waitFor(async () => (await tasks()).some((t) => t.service === 'agent' && t.node === a && t.state === 'running'), 15_000, 'the global task back on a');
  });

  it('refuses a bad join token, a request without a node certificate, and a certificate of another cluster', async () => {
    const stranger = new Sandbox();
    try {
      const bad = token.slice(0, 'BATON-1-'.length + 64 + 1) + 'A'.repeat(24);
      const refused = await stranger.run(['agent', '--join', `${hm.ip}:2377`, '--token', bad], { timeoutMs: 20_000 });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /join refused.*not valid for this cluster/);
      assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');

      const ca = readFileSync(join(mgr.home, 'ca', 'ca.crt'), 'utf8');
      const anon = await tlsCall(`https://${hm.ip}:2377/v1/cluster/view`, { ca });
      assert.equal(anon.status, 401);

      // A second cluster, its own CA: its node's certificate means nothing here.
      const other = new Sandbox();
      const otherNode = new Sandbox();
      const om = capture('other manager', lab.baton(hm, ['manager', '--listen-addr', `${hm.ip}:2378`], other.env()));
      try {
        await waitFor(() => managerUp(other), 20_000, 'the other manager');
        const otherToken = (await other.ok(['join-token', 'worker', '-q'])).trim();
        const oa = capture('other agent', lab.baton(ha, ['agent', '--join', `${hm.ip}:2378`, '--token', otherToken], otherNode.env()));
        await waitFor(async () => (await other.run(['node', 'ls', '-q'])).stdout.trim().split('\n').length === 2, 20_000, 'the other cluster joined');
        oa.kill('SIGKILL');
        const key = readFileSync(join(otherNode.home, 'node', 'node.key'), 'utf8');
        const cert = readFileSync(join(otherNode.home, 'node', 'node.crt'), 'utf8');
        const foreign = await tlsCall(`https://${hm.ip}:2377/v1/cluster/view`, { ca, cert, key });
        assert.equal(foreign.status, 401);
        // And the wrong manager for a token: the token's CA fingerprint does not match.
        const wrong = await stranger.run(['agent', '--join', `${hm.ip}:2378`, '--token', token], { timeoutMs: 20_000 });
        assert.equal(wrong.code, 1);
        assert.match(wrong.stderr, /does not hold the CA this token names/);
      } finally {
        om.kill('SIGTERM');
        await exited(om);
        await other.cleanup();
        await otherNode.cleanup();
      }
    } finally {
      await stranger.cleanup();
    }
  });

  it('rotates the join token and refuses a removed node', async () => {
    const old = token;
    const rotated = (await mgr.ok(['join-token', 'worker', '--rotate', '-q'])).trim();
    assert.notEqual(rotated, old);
    const late = new Sandbox();
    try {
      const r = await late.run(['agent', '--join', `${hm.ip}:2377`, '--token', old], { timeoutMs: 20_000 });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /not valid for this cluster/);
    } finally {
      await late.cleanup();
    }
    // A node that is up is only removed with --force.
    const a = await idOf(ha.ip);
    const notForced = await mgr.run(['node', 'rm', a]);
    assert.equal(notForced.code, 1);
    assert.match(notForced.stderr, /is ready; stop its agent first, or use --force/);
    await mgr.ok(['node', 'rm', '--force', a]);
    // The removed node's agent is refused, stops its tasks and exits.
    assert.equal(await exited(agentA), 1);
    await waitFor(async () => (await tasks()).filter((t) => t.service === 'web' && t.state === 'running').length === 3, 20_000, 'web back at 3 replicas without node a');
    assert.ok((await tasks()).every((t) => t.node !== a || t.desiredState !== 'running'));
  });
});

// Issue 7 across hosts: three network-namespace hosts; a client on host A
// reaches a service whose only task runs on host C by its name, and through
// the published port on hosts A and B; when that task is killed, traffic
// moves to its replacement without the client changing anything.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Sandbox, alive, httpGet, waitFor } from '../helpers/baton.js';
import { NetnsLab, netnsUnavailable, type NetnsHost } from '../helpers/netns.js';
import type { NodeInfo, Task } from '../../src/model/types.js';

const WEB = `
import http from 'node:http';
http.createServer((req, res) => res.end('web ' + process.pid)).listen(Number(process.env.PORT));
`;
// Asks for the service by name at its target port, as in a container, and logs each answer.
const CLIENT = `
const tick = async () => {
  try { const r = await fetch('http://web:8080/', { signal: AbortSignal.timeout(1000) }); console.log('ok ' + (await r.text())); }
  catch (e) { console.log('fail ' + e.message); }
  setTimeout(tick, 200);
};
tick();
`;
const PUBLISHED = 18090;

const why = netnsUnavailable();
if (why && process.env.CI === 'true') throw new Error(`cluster mesh e2e cannot run in CI: ${why}`);

describe('service discovery and the routing mesh across three hosts', { skip: why ? `skipped: ${why}` : false }, () => {
  let lab: NetnsLab;
  const mgr = new Sandbox();
  const homes = [new Sandbox(), new Sandbox()];
  let hosts: NetnsHost[] = [];
  const project = 'mesh';
  const children: ChildProcess[] = [];

  const nodes = async (): Promise<NodeInfo[]> => JSON.parse(await mgr.ok(['node', 'ls', '--format', 'json'])) as NodeInfo[];
  const tasks = async (): Promise<Task[]> => JSON.parse(await mgr.ok(['ps', '--format', 'json', '-p', project])) as Task[];
  const clientLines = async (): Promise<string[]> => (await mgr.ok(['logs', '--no-log-prefix', '-p', project, 'client'])).split('\n').filter(Boolean);

  before(async () => {
    lab = new NetnsLab(3);
    hosts = lab.hosts;
    const [ha, hb, hc] = hosts;
    const env = (sb: Sandbox): NodeJS.ProcessEnv => sb.env({ BATON_SERVICE_NAMES: '1' });
    // The flag on the manager, the environment variable on the agents: both turn service addresses on.
    children.push(lab.baton(ha, ['manager', '--listen-addr', `${ha.ip}:2377`, '--service-addresses'], mgr.env()));
    await waitFor(async () => (JSON.parse(await mgr.ok(['version', '--format', 'json'])) as { daemon: unknown }).daemon !== null, 20_000, 'the manager');
    const token = (await mgr.ok(['join-token', 'worker', '-q'])).trim();
    children.push(lab.baton(hb, ['agent', '--join', `${ha.ip}:2377`, '--token', token, '--advertise-addr', hb.ip, '--label', 'host=b'], env(homes[0])));
    children.push(lab.baton(hc, ['agent', '--join', `${ha.ip}:2377`, '--token', token, '--advertise-addr', hc.ip, '--label', 'host=c'], env(homes[1])));
    await waitFor(async () => (await nodes()).filter((n) => n.state === 'ready').length === 3, 20_000, 'three ready nodes');
    mgr.write('web.mjs', WEB);
    mgr.write('client.mjs', CLIENT);
    mgr.write(
      'compose.yaml',
      `name: ${project}
x-baton: {driver: process}
services:
  web:
    command: ["node", "web.mjs"]
    ports: ["${PUBLISHED}:8080"]
    restart: always
    deploy:
      placement:
        constraints: ["node.labels.host==c"]
  client:
    command: ["node", "client.mjs"]
    deploy:
      placement:
        constraints: ["node.role==manager"]
`,
    );
    await mgr.ok(['up', '-d', '--wait'], { timeoutMs: 60_000 });
  });

  after(async () => {
    await mgr.run(['down'], { timeoutMs: 30_000 }).catch(() => undefined);
    lab?.cleanup();
    await Promise.all([mgr.cleanup(), ...homes.map((h) => h.cleanup())]);
  });

  it('runs web on host C only and the client on host A', async () => {
    const ns = await nodes();
    const c = ns.find((n) => n.address === hosts[2].ip)!.id;
    const a = ns.find((n) => n.address === hosts[0].ip)!.id;
    const ts = await tasks();
    assert.deepEqual(ts.filter((t) => t.service === 'web').map((t) => t.node), [c]);
    assert.deepEqual(ts.filter((t) => t.service === 'client').map((t) => t.node), [a]);
  });

  it('the client on host A reaches web on host C by its name', async () => {
    await waitFor(async () => (await clientLines()).some((l) => l.startsWith('ok web ')), 15_000, 'an answer by name');
  });

  it('the published port answers on hosts A and B, where web does not run', async () => {
    for (const h of [hosts[0], hosts[1]]) {
      const r = await httpGet(`http://${h.ip}:${PUBLISHED}/`);
      assert.equal(r.status, 200);
      assert.match(r.body, /^web \d+$/);
    }
  });

  it('when the task is killed, traffic moves to its replacement with nothing changed at the client', async () => {
    const web = (await tasks()).find((t) => t.service === 'web')!;
    const before = (await clientLines()).length;
    process.kill(web.pid!, 'SIGKILL');
    await waitFor(() => !alive(web.pid!), 5000, 'the web task to die');
    await waitFor(async () => (await clientLines()).slice(before).some((l) => l.startsWith('ok web ') && l !== `ok web ${web.pid}`), 20_000, 'the client served by the replacement');
    const fresh = (await tasks()).find((t) => t.service === 'web' && t.state === 'running')!;
    assert.notEqual(fresh.id, web.id);
    for (const h of [hosts[0], hosts[1]]) assert.equal((await httpGet(`http://${h.ip}:${PUBLISHED}/`)).body, `web ${fresh.pid}`);
  });
});

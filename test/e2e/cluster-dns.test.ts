// Issue 7, containers across hosts: a container on one node finds services
// whose tasks run on another by name, through baton's DNS and service VIPs
// (no overlay network). Host R is this machine, with its Docker engine; the
// manager and host C are network namespaces (dockerd cannot run inside
// those), joined to R by the lab's bridge.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { Sandbox, waitFor } from '../helpers/baton.js';
import { dockerForTests } from '../helpers/docker.js';
import { NetnsLab, netnsUnavailable, type NetnsHost } from '../helpers/netns.js';
import type { NodeInfo, Task } from '../../src/model/types.js';

const WEB = `
import http from 'node:http';
http.createServer((req, res) => res.end((process.env.BATON_SERVICE) + ' ' + process.pid)).listen(Number(process.env.PORT));
`;

// A process task on the manager's host: names through its own resolv.conf (its mount namespace), the same DNS.
const PCLIENT = `
import dns from 'node:dns';
const tick = async () => {
  try { const r = await fetch('http://web:8080/', { signal: AbortSignal.timeout(1000) }); console.log('pgot ' + (await r.text())); }
  catch (e) { console.log('pfail ' + e.message); }
  try { console.log('tasks ' + (await dns.promises.resolve4('tasks.web')).length); } catch (e) { console.log('tasks ' + e.code); }
  try { const r = await fetch('http://store:7070/', { signal: AbortSignal.timeout(1000) }); console.log('sgot ' + (await r.text()).trim()); }
  catch (e) { console.log('sfail ' + e.message); }
  setTimeout(tick, 300);
};
tick();
`;

const why = netnsUnavailable();
if (why && process.env.CI === 'true') throw new Error(`cluster DNS e2e cannot run in CI: ${why}`);
const engine = why ? undefined : await dockerForTests();
const skip = why ?? engine?.skip;

describe('containers reach services on other hosts by name (DNS and service VIPs)', { skip: skip ? `skipped: ${skip}` : false }, () => {
  let lab: NetnsLab;
  const mgr = new Sandbox();
  const hostC = new Sandbox();
  const hostR = new Sandbox();
  let hosts: NetnsHost[] = [];
  const project = 'vipdns';
  const storeImage = `baton-test-exposed:${process.pid}`;
  const children: ChildProcess[] = [];

  const nodes = async (): Promise<NodeInfo[]> => JSON.parse(await mgr.ok(['node', 'ls', '--format', 'json'])) as NodeInfo[];
  const tasks = async (): Promise<Task[]> => JSON.parse(await mgr.ok(['ps', '--format', 'json', '-p', project])) as Task[];
  const clientLines = async (): Promise<string[]> => (await mgr.ok(['logs', '--no-log-prefix', '-p', project, 'client'])).split('\n').filter(Boolean);
  const exec = (cmd: string): Promise<string> => mgr.ok(['exec', '-p', project, '-T', 'client', 'sh', '-c', cmd], { timeoutMs: 20_000 });
  /** The addresses an nslookup inside the client container gives for a name (busybox prints the server first). */
  const lookup = async (name: string): Promise<string[]> => {
    const out = await exec(`nslookup ${name} 2>&1 || true`);
    const after = out.split(/\nName:/).slice(1).join('\n');
    return [...after.matchAll(/Address(?: \d+)?:\s+(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]).sort();
  };

  before(async () => {
    lab = new NetnsLab(2);
    hosts = lab.hosts;
    const [ha, hc] = hosts;
    children.push(lab.baton(ha, ['manager', '--listen-addr', `${ha.ip}:2377`], mgr.env()));
    await waitFor(async () => (JSON.parse(await mgr.ok(['version', '--format', 'json'])) as { daemon: unknown }).daemon !== null, 20_000, 'the manager');
    const token = (await mgr.ok(['join-token', 'worker', '-q'])).trim();
    children.push(lab.baton(hc, ['agent', '--join', `${ha.ip}:2377`, '--token', token, '--advertise-addr', hc.ip, '--label', 'host=c', '--driver', 'process'], hostC.env()));
    // Host R: this machine's namespace, its engine, and a service subnet of its own (another test run's nodes may hold the default one here).
    children.push(hostR.spawn(['agent', '--join', `${ha.ip}:2377`, '--token', token, '--advertise-addr', lab.gateway, '--label', 'host=r', '--driver', 'docker', '--service-subnet', `10.214.${process.pid % 250}.0/24`], { env: { DOCKER_HOST: engine!.host } }));
    await waitFor(async () => (await nodes()).filter((n) => n.state === 'ready').length === 3, 30_000, 'three ready nodes');
    // An image that declares its port itself (EXPOSE), which the Compose file does not repeat.
    execFileSync('docker', ['-H', engine!.host, 'build', '-q', '-t', storeImage, '-'], { input: `FROM ${engine!.image}\nEXPOSE 7070\n`, env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: ['pipe', 'ignore', 'inherit'] });
    mgr.write('web.mjs', WEB);
    mgr.write('pclient.mjs', PCLIENT);
    mgr.write(
      'compose.yaml',
      `name: ${project}
services:
  web:
    x-baton: {driver: process}
    command: ["node", "web.mjs"]
    expose: ["8080"]
    restart: always
    deploy:
      replicas: 2
      placement:
        constraints: ["node.labels.host==c"]
  api:
    x-baton: {driver: process}
    command: ["node", "web.mjs"]
    expose: ["8080"]
    deploy:
      endpoint_mode: dnsrr
      replicas: 2
      placement:
        constraints: ["node.labels.host==c"]
  pclient:
    x-baton: {driver: process}
    command: ["node", "pclient.mjs"]
    deploy:
      placement:
        constraints: ["node.role==manager"]
  store:
    image: ${storeImage}
    command: ["sh", "-c", "echo store $$(hostname) > /tmp/index.html; exec httpd -f -p 7070 -h /tmp"]
    init: true
    deploy:
      placement:
        constraints: ["node.labels.host==r"]
  client:
    image: ${engine!.image}
    command: ["sh", "-c", "while true; do echo \\"got $$(timeout 3 wget -q -O - http://web:8080/ 2>&1)\\"; sleep 0.3; done"]
    deploy:
      placement:
        constraints: ["node.labels.host==r"]
`,
    );
    await mgr.ok(['up', '-d', '--wait'], { timeoutMs: 90_000 });
  });

  after(async () => {
    await mgr.run(['down'], { timeoutMs: 30_000 }).catch(() => undefined);
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    lab?.cleanup();
    await engine?.docker.getImage(storeImage).remove({ force: true }).catch(() => undefined);
    await Promise.all([mgr.cleanup(), hostC.cleanup(), hostR.cleanup()]);
    await engine?.release();
  });

  it('runs web and api on host C and the client container on host R', async () => {
    const ns = await nodes();
    const c = ns.find((n) => n.address === hosts[1].ip)!.id;
    const r = ns.find((n) => n.address === lab.gateway)!.id;
    const ts = await tasks();
    assert.deepEqual(ts.filter((t) => t.service === 'web' || t.service === 'api').map((t) => t.node), [c, c, c, c]);
    assert.deepEqual(ts.filter((t) => t.service === 'client').map((t) => t.node), [r]);
  });

  it('the container reaches web on host C by its name, balanced over both replicas', async () => {
    const both = async (): Promise<boolean> => new Set((await clientLines()).filter((l) => /^got web \d+$/.test(l))).size === 2;
    await waitFor(both, 20_000, 'answers from both web replicas by name').catch(async (e: Error) => {
      // What the container sees, for whoever reads the failure.
      throw new Error(`${e.message}\n${(await clientLines()).slice(-5).join('\n')}\n${await exec('cat /etc/resolv.conf; nslookup web 2>&1; wget -O - http://web:8080/ 2>&1')}`);
    });
  });

  it('web resolves to one VIP, tasks.web to one address per task, each reaching that task alone', async () => {
    const vip = await lookup('web');
    assert.equal(vip.length, 1, `web: ${vip.join(' ')}`);
    const each = await lookup('tasks.web');
    assert.equal(each.length, 2, `tasks.web: ${each.join(' ')}`);
    const pids = new Set<string>();
    for (const ip of each) {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) seen.add((await exec(`timeout 3 wget -q -O - http://${ip}:8080/`)).trim());
      assert.equal(seen.size, 1, `${ip} always reaches the same task: ${[...seen].join(', ')}`);
      pids.add([...seen][0]);
    }
    const web = (await tasks()).filter((t) => t.service === 'web').map((t) => `web ${t.pid}`).sort();
    assert.deepEqual([...pids].sort(), web);
  });

  it('a dnsrr service resolves to its tasks\' addresses', async () => {
    const rr = await lookup('api');
    assert.equal(rr.length, 2);
    assert.deepEqual(rr, await lookup('tasks.api'));
    assert.match(await exec(`timeout 3 wget -q -O - http://${rr[0]}:8080/`), /^api \d+$/);
  });

  it('a process task on the manager\'s host resolves the same names through its own resolv.conf', async () => {
    const lines = async (): Promise<string[]> => (await mgr.ok(['logs', '--no-log-prefix', '-p', project, 'pclient'])).split('\n').filter(Boolean);
    await waitFor(async () => {
      const l = await lines();
      return l.some((x) => /^pgot web \d+$/.test(x)) && l.includes('tasks 2');
    }, 20_000, 'the process client reaching web by name and seeing both tasks').catch(async (e: Error) => {
      throw new Error(`${e.message}\n${(await lines()).slice(-6).join('\n')}`);
    });
  });

  it('a process task on another host reaches a container by its service name at the port its image exposes, through the container\'s node', async () => {
    const [store] = (await tasks()).filter((t) => t.service === 'store');
    assert.ok(store.ports.some((p) => p.target === 7070 && p.nodePort), `the container reports its image's port and a node port: ${JSON.stringify(store.ports)}`);
    const lines = async (): Promise<string[]> => (await mgr.ok(['logs', '--no-log-prefix', '-p', project, 'pclient'])).split('\n').filter(Boolean);
    await waitFor(async () => (await lines()).some((x) => /^sgot store \w+$/.test(x)), 20_000, 'the process client on the manager reaching store on host R').catch(async (e: Error) => {
      throw new Error(`${e.message}\n${(await lines()).filter((l) => l.startsWith('s')).slice(-4).join('\n')}`);
    });
  });

  it('when a web task dies, its replacement is reached by the same name', async () => {
    const web = (await tasks()).filter((t) => t.service === 'web');
    for (const t of web) process.kill(t.pid!, 'SIGKILL');
    const before = (await clientLines()).length;
    const old = new Set(web.map((t) => `got web ${t.pid}`));
    await waitFor(async () => (await clientLines()).slice(before).some((l) => /^got web \d+$/.test(l) && !old.has(l)), 30_000, 'the client served by a replacement');
  });
});

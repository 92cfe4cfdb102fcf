// Process tasks in mount namespaces through a real daemon: a hosts file of
// their own (extra_hosts; service names when service addresses are on), the
// stop signal reaching the program, and a kill -9 of the daemon leaving
// nothing behind on the host.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { Sandbox, alive, freePort, httpGet, waitFor } from '../helpers/baton.js';

// CI runs as root: there this must run, never skip.
const root = process.platform === 'linux' && process.getuid?.() === 0;
const skip = !root && !process.env.CI ? 'mount namespaces need root on Linux' : false;

// Answers with its task id, reads its secret at the Compose path, and says when SIGTERM reaches it.
const API = `
import http from 'node:http';
import { readFileSync } from 'node:fs';
process.on('SIGTERM', () => { console.log('api got SIGTERM'); process.exit(0); });
http.createServer((req, res) => res.end(process.env.BATON_TASK_ID + ' ' + readFileSync('/run/secrets/api_key', 'utf8').length)).listen(Number(process.env.PORT), '127.0.0.1');
console.log('api up');
`;

// Reaches api by the names a Compose file gives it, and prints what each name gave.
const CLIENT = `
import { lookup } from 'node:dns/promises';
const target = process.env.API_TARGET;
const tick = async () => {
  for (const name of ['api', 'backend', 'legacy']) {
    try {
      const r = await fetch('http://' + name + ':' + target + '/');
      console.log(name + ' -> ' + (await r.text()));
    } catch (e) {
      console.log(name + ' failed: ' + (e.cause?.code ?? e.message));
    }
  }
  try {
    console.log('outside -> ' + (await lookup('outside.example')).address);
  } catch (e) {
    console.log('outside failed: ' + e.code);
  }
};
setInterval(tick, 300);
`;

function compose(project: string, target: number, published: number): string {
  return `name: ${project}
x-baton: {driver: process}
services:
  api:
    command: ["node", "api.mjs"]
    expose: ["${target}"]
    ports: ["${published}:${target}"]
    networks:
      default:
        aliases: [backend]
    secrets: [api_key]
  client:
    command: ["node", "client.mjs"]
    environment:
      API_TARGET: "${target}"
    links: ["api:legacy"]
    extra_hosts: ["outside.example:10.9.8.7"]
secrets:
  api_key:
    environment: API_KEY
`;
}

/** Mountpoints of the host a task's namespace could have leaked to. */
function leakedMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[4])
    .filter((m) => m.startsWith('/run/secrets') || m === '/etc/hosts');
}

function taskProcesses(project: string): { pid: number; task: string }[] {
  const out: { pid: number; task: string }[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const env = readFileSync(`/proc/${n}/environ`, 'latin1').split('\0');
      if (env.includes(`BATON_PROJECT=${project}`)) out.push({ pid: Number(n), task: env.find((e) => e.startsWith('BATON_TASK_ID='))!.slice(14) });
    } catch {
      /* gone */
    }
  }
  return out;
}

describe('process tasks in mount namespaces, through the daemon', { skip }, () => {
  const sb = new Sandbox();
  const project = `nsd${process.pid}`;
  // Service addresses are opt-in (they hold target ports on loopback addresses): this daemon has them on.
  const env = { BATON_SERVICE_NAMES: '1', API_KEY: 'k-123' };
  let url = '';
  const hostHosts = readFileSync('/etc/hosts', 'utf8');
  const clientLines = async (): Promise<string[]> => (await sb.ok(['logs', 'client'], { env })).split('\n');

  before(async () => {
    // A target port nobody uses here: the name listener holds it on its loopback address.
    const target = await freePort();
    const published = await freePort();
    url = `http://127.0.0.1:${published}/`;
    sb.write('api.mjs', API);
    sb.write('client.mjs', CLIENT);
    sb.write('compose.yaml', compose(project, target, published));
    await sb.ok(['up', '-d', '--wait', '--wait-timeout', '60'], { env });
  });

  after(async () => {
    await sb.run(['down'], { env });
    await sb.cleanup();
  });

  it('a task reaches another service by its name, alias and link at the target port; extra_hosts resolve', async () => {
    const api = (await sb.ps()).find((r) => r.service === 'api' && r.state === 'running')!;
    const last = async (): Promise<Map<string, string>> => {
      const m = new Map<string, string>();
      for (const l of await clientLines()) {
        const x = /\b(api|backend|legacy|outside) (->|failed:) (.*)$/.exec(l);
        if (x) m.set(x[1], `${x[2]} ${x[3]}`);
      }
      return m;
    };
    await waitFor(async () => [...(await last()).values()].filter((v) => v.startsWith('->')).length === 4, 20_000, 'the client to reach every name');
    const m = await last();
    for (const name of ['api', 'backend', 'legacy']) assert.equal(m.get(name), `-> ${api.id} 5`, `${name} reaches the api task`);
    assert.equal(m.get('outside'), '-> 10.9.8.7');
    assert.equal(readFileSync('/etc/hosts', 'utf8'), hostHosts, 'the host\'s hosts file is untouched');
    assert.deepEqual(leakedMounts(), []);
    assert.match(sb.daemonLog(), /@name listening on 127\.\d+\.\d+\.\d+:\d+\/tcp/);
  });

  it('the stop signal reaches the program itself', async () => {
    const before = (await sb.ps()).find((r) => r.service === 'api' && r.state === 'running')!;
    await sb.ok(['restart', 'api'], { env });
    await waitFor(async () => (await sb.ok(['logs', 'api'], { env })).includes('api got SIGTERM'), 15_000, 'the program to say it got SIGTERM');
    await waitFor(() => !alive(before.pid!), 10_000, 'the old api to end');
    await waitFor(async () => (await sb.ps()).some((r) => r.service === 'api' && r.state === 'running'), 30_000, 'a new api');
  });

  it('kill -9 of the daemon: the next one stops the namespaced tasks it lost and starts fresh ones; nothing is left', async () => {
    const oldTasks = taskProcesses(project);
    assert.ok(oldTasks.length >= 2, 'api and client run');
    const oldIds = new Set(oldTasks.map((t) => t.task));
    assert.ok(oldTasks.every((t) => readlinkSync(`/proc/${t.pid}/ns/mnt`) !== readlinkSync('/proc/self/ns/mnt')), 'each in a namespace of its own');
    const daemon = sb.daemonPid()!;
    process.kill(daemon, 'SIGKILL');
    await waitFor(() => !alive(daemon), 10_000, 'the daemon to die');
    // (A task that writes after its daemon died may die of the broken pipe; the quiet api lives on.)
    await sb.ok(['up', '-d', '--wait', '--wait-timeout', '60'], { env }); // brings the daemon back
    await waitFor(() => oldTasks.every((t) => !alive(t.pid)), 15_000, 'the lost tasks to be stopped');
    await waitFor(async () => (await sb.ps()).filter((r) => r.state === 'running').length === 2, 30_000, 'fresh tasks');
    const now = taskProcesses(project);
    assert.ok(now.every((t) => !oldIds.has(t.task)), 'no process of a lost task is left');
    const body = (await httpGet(url)).body;
    assert.match(body, / 5$/, 'the new api reads its secret at /run/secrets');
    assert.deepEqual(leakedMounts(), []);
  });
});

// End to end, with the real CLI, a real daemon and real processes: the
// single-machine path of issue 2 (up, ps, logs, scale, stop/start/restart,
// restarts, health, depends_on, kill -9 of a replica and of the daemon, down).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Sandbox, alive, freePort, httpGet, projectProcesses, waitFor, type PsRow } from '../helpers/baton.js';

const SERVER = `
import http from 'node:http';
const port = Number(process.env.PORT);
http.createServer((req, res) => {
  if (req.url === '/health') return res.end('ok');
  res.end(JSON.stringify({ slot: process.env.BATON_SLOT, pid: process.pid, db: process.env.DB_PORT ?? null }));
}).listen(port, '127.0.0.1', () => console.log('listening on ' + port));
process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(0); });
`;

describe('a process project end to end', () => {
  const sb = new Sandbox();
  let published = 0;
  const project = `e2e${process.pid}`;

  before(async () => {
    published = await freePort();
    sb.write('server.mjs', SERVER);
    sb.write('.env', 'GREETING=hi-from-dotenv\n');
    sb.write(
      'compose.yaml',
      `name: ${project}
x-baton: {driver: process}
services:
  db:
    command: ["node", "server.mjs"]
    expose: ["5432"]
    healthcheck:
      test: ["CMD-SHELL", "node -e \\"fetch('http://127.0.0.1:'+process.env.PORT+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))\\""]
      interval: 1s
      retries: 2
    restart: always
  web:
    command: ["node", "server.mjs"]
    ports: ["${published}:8080"]
    environment:
      GREETING: \${GREETING}
    deploy:
      replicas: 3
      restart_policy: {condition: any, delay: 200ms}
    depends_on:
      db: {condition: service_healthy}
  once:
    command: ["sh", "-c", "echo migrated; exit 0"]
`,
    );
  });

  after(async () => {
    await sb.run(['down']);
    await sb.cleanup();
  });

  it('up -d --wait starts the daemon and every service, healthy', async () => {
    const out = await sb.ok(['up', '-d', '--wait']);
    assert.match(out, /Service web\s+Created/);
    assert.ok(sb.daemonPid(), 'daemon runs in the background');
    const rows = await sb.ps();
    const web = rows.filter((r) => r.service === 'web');
    assert.deepEqual(web.map((r) => r.slot).sort(), [1, 2, 3]);
    for (const r of web) {
      assert.equal(r.state, 'running');
      assert.ok(r.pid && alive(r.pid), 'pid is a live process');
      assert.equal(r.project, project);
      assert.ok(r.node);
      assert.equal(r.restarts, 0);
      assert.ok(r.startedAt);
      assert.equal(r.ports.length, 1);
    }
    const db = rows.find((r) => r.service === 'db')!;
    assert.equal(db.health, 'healthy');
    const once = rows.find((r) => r.service === 'once')!;
    assert.equal(once.state, 'complete');
    // web started only after db was healthy
    assert.ok(Date.parse(web[0].startedAt!) >= Date.parse(db.startedAt!));
  });

  it('the published port spreads connections over the replicas, and services reach each other by env', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const r = await httpGet(`http://127.0.0.1:${published}/`);
      assert.equal(r.status, 200);
      const body = JSON.parse(r.body) as { slot: string; db: string | null };
      seen.add(body.slot);
      assert.ok(body.db && Number(body.db) > 0, 'DB_PORT injected');
    }
    assert.deepEqual([...seen].sort(), ['1', '2', '3']);
  });

  it('logs shows each task\'s output with prefixes, tail and timestamps', async () => {
    const out = await sb.ok(['logs', 'web']);
    assert.match(out, /web-1\s+\| listening on \d+/);
    assert.match(out, /web-3\s+\| listening on/);
    const once = await sb.ok(['logs', '--tail', '1', '-t', 'once']);
    assert.match(once, /once-1\s+\| \d{4}-\d\d-\d\dT[\d:.]+Z migrated/);
  });

  it('kill -9 of one replica: restarted, and the published port answers throughout', async () => {
    const before = (await sb.ps()).find((r) => r.service === 'web' && r.slot === 2)!;
    const failures: string[] = [];
    let requests = 0;
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        try {
          const r = await httpGet(`http://127.0.0.1:${published}/`);
          if (r.status !== 200) failures.push(`HTTP ${r.status}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
        requests++;
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    process.kill(before.pid!, 'SIGKILL');
    await waitFor(async () => {
      const now = (await sb.ps()).find((r) => r.service === 'web' && r.slot === 2)!;
      return now.state === 'running' && now.pid !== before.pid && now.restarts === 1;
    }, 15_000, 'slot 2 to be restarted');
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await loop;
    assert.ok(requests > 20, `made ${requests} requests`);
    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
  });

  it('scale up and down keeps stable slots', async () => {
    await sb.ok(['scale', 'web=5']);
    await waitFor(async () => (await sb.ps()).filter((r) => r.service === 'web' && r.state === 'running').length === 5, 15_000, '5 replicas');
    await sb.ok(['scale', 'web=2']);
    await waitFor(async () => {
      const web = (await sb.ps()).filter((r) => r.service === 'web');
      return web.length === 2 && web.every((r) => r.state === 'running');
    }, 15_000, '2 replicas');
    const slots = (await sb.ps()).filter((r) => r.service === 'web').map((r) => r.slot).sort();
    assert.deepEqual(slots, [1, 2]);
  });

  it('stop, start and restart', async () => {
    await sb.ok(['stop', 'web']);
    await waitFor(async () => (await sb.ps()).filter((r) => r.service === 'web' && r.state === 'running').length === 0, 15_000, 'web stopped');
    await sb.ok(['start', 'web']);
    await waitFor(async () => (await sb.ps()).filter((r) => r.service === 'web' && r.state === 'running').length === 2, 15_000, 'web started');
    const pids = (await sb.ps()).filter((r) => r.service === 'web').map((r) => r.pid);
    await sb.ok(['restart', 'web']);
    await waitFor(async () => {
      const web = (await sb.ps()).filter((r) => r.service === 'web');
      return web.length === 2 && web.every((r) => r.state === 'running' && !pids.includes(r.pid));
    }, 15_000, 'web restarted with new processes');
  });

  it('kill -9 of the daemon: the next command brings it back with exactly the desired tasks and no orphans', async () => {
    const oldDaemon = sb.daemonPid()!;
    const oldPids = (await sb.ps()).filter((r) => r.state === 'running').map((r) => r.pid!);
    process.kill(oldDaemon, 'SIGKILL');
    await waitFor(() => !alive(oldDaemon), 5000, 'daemon to die');
    let rows: PsRow[] = [];
    await waitFor(async () => {
      rows = await sb.ps();
      const web = rows.filter((r) => r.service === 'web' && r.state === 'running');
      const db = rows.filter((r) => r.service === 'db' && r.state === 'running');
      return web.length === 2 && db.length === 1;
    }, 30_000, 'tasks back after daemon restart');
    assert.notEqual(sb.daemonPid(), oldDaemon);
    const running = rows.filter((r) => r.state === 'running').map((r) => r.pid!);
    const live = projectProcesses(project).filter((pid) => alive(pid));
    // Every live process of the project is one ps knows (no duplicates, no orphans).
    for (const pid of live) assert.ok(running.includes(pid) || isChildOf(pid, running), `process ${pid} is not a known task`);
    assert.equal(new Set(running).size, running.length);
    for (const pid of oldPids) if (!running.includes(pid)) assert.ok(!alive(pid), `old task process ${pid} left running`);
  });

  it('a bad deploy is refused with the service named and leaves the running project untouched', async () => {
    const before = (await sb.ps()).map((r) => r.pid).sort();
    sb.write(
      'bad.yaml',
      `name: ${project}
x-baton: {driver: process}
services:
  web:
    command: ["definitely-not-a-command-xyz"]
  db:
    image: postgres
    x-baton: {driver: warp}
`,
    );
    const r = await sb.run(['up', '-d', '-f', 'bad.yaml']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /service "db".*driver "warp"/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    const after = (await sb.ps()).map((r) => r.pid).sort();
    assert.deepEqual(after, before);
    sb.write(
      'bad2.yaml',
      `name: ${project}
x-baton: {driver: process}
services:
  web:
    command: ["definitely-not-a-command-xyz"]
`,
    );
    const r2 = await sb.run(['up', '-d', '-f', 'bad2.yaml']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /service "web".*command not found/);
    assert.deepEqual((await sb.ps()).map((r) => r.pid).sort(), before);
  });

  it('ls and events show the project and what happened', async () => {
    const ls = JSON.parse(await sb.ok(['ls', '--format', 'json'])) as { name: string }[];
    assert.ok(ls.some((p) => p.name === project));
    const ev = await sb.ok(['events', '--no-follow', '--json', '-p', project]);
    const types = ev.trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type);
    assert.ok(types.includes('project.deploy'));
    assert.ok(types.includes('task.die'));
  });

  it('down leaves no process of the project behind', async () => {
    const pids = (await sb.ps()).map((r) => r.pid).filter((p): p is number => p !== null);
    assert.ok(pids.length > 0);
    await sb.ok(['down']);
    for (const pid of pids) assert.ok(!alive(pid), `process ${pid} survived down`);
    assert.deepEqual(projectProcesses(project, { probes: true }).filter(alive), []);
    const r = await sb.run(['ps']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not found/);
  });
});

function isChildOf(pid: number, parents: number[]): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return parents.includes(ppid) || (ppid > 1 && isChildOf(ppid, parents));
  } catch {
    return false;
  }
}

// Issue 6 end to end: rolling updates and rollbacks of a service behind a
// published port, with a client sending requests throughout, and a daemon
// killed halfway through an update.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, alive, freePort, httpGet, waitFor, type PsRow } from '../helpers/baton.js';

// Answers with its VERSION; a "broken" version fails its health endpoint. On SIGTERM it
// finishes what it serves and exits, as a well-behaved server does.
const SERVER = `
import http from 'node:http';
const version = process.env.VERSION;
const server = http.createServer((req, res) => {
  if (req.url === '/health') { res.statusCode = version === 'broken' ? 500 : 200; return res.end(version); }
  res.end(version);
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

function compose(project: string, port: number, version: string, replicas: number, update: string): string {
  return `name: ${project}
x-baton: {driver: process}
services:
  web:
    command: ["node", "server.mjs"]
    environment: {VERSION: ${version}}
    ports: ["${port}:8080"]
    stop_grace_period: 5s
    healthcheck:
      test: ["CMD-SHELL", "curl -fsS -m 1 http://127.0.0.1:$$PORT/health"]
      interval: 300ms
      retries: 2
    deploy:
      replicas: ${replicas}
      restart_policy: {condition: any, delay: 100ms}
      update_config: {${update}}
      rollback_config: {parallelism: 0, monitor: 500ms}
`;
}

/** Requests one after another on fresh connections until stopped; counts what failed. */
function clientLoop(url: string): { stop(): Promise<{ ok: number; failed: string[]; versions: Set<string> }> } {
  let running = true;
  const failed: string[] = [];
  const versions = new Set<string>();
  let ok = 0;
  const done = (async () => {
    while (running) {
      try {
        const r = await httpGet(url, 3000);
        if (r.status === 200) {
          ok++;
          versions.add(r.body);
        } else failed.push(`HTTP ${r.status}`);
      } catch (err) {
        failed.push((err as Error).message);
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return { ok, failed, versions };
    },
  };
}

const live = (rows: PsRow[]): PsRow[] => rows.filter((r) => r.service === 'web' && r.state === 'running');

describe('rolling updates', () => {
  const sb = new Sandbox();
  const project = `roll${process.pid}`;
  let port = 0;
  let url = '';
  const up = (version: string, replicas: number, update: string): Promise<{ code: number; stdout: string; stderr: string }> => {
    sb.write('compose.yaml', compose(project, port, version, replicas, update));
    return sb.run(['up', '-d', '--wait', '--wait-timeout', '90'], { timeoutMs: 120_000 });
  };
  /** Every replica answers `version` (asked twice as many times as there are replicas). */
  const allAnswer = async (version: string, replicas: number): Promise<void> => {
    for (let i = 0; i < replicas * 2; i++) assert.equal((await httpGet(url)).body, version);
  };

  before(async () => {
    port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    sb.write('server.mjs', SERVER);
    const r = await up('v1', 4, 'parallelism: 1, order: start-first, monitor: 500ms');
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    await sb.run(['down']);
    await sb.cleanup();
  });

  it('start-first: no request fails and every replica ends on the new version', async () => {
    const loop = clientLoop(url);
    const r = await up('v2', 4, 'parallelism: 1, order: start-first, monitor: 500ms');
    const seen = await loop.stop();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(seen.failed, [], `${seen.failed.length} of ${seen.ok + seen.failed.length} requests failed`);
    assert.ok(seen.ok > 20, `the client kept being served (${seen.ok} requests)`);
    assert.ok(seen.versions.has('v1') && seen.versions.has('v2'), 'both versions answered during the update');
    await allAnswer('v2', 4);
    assert.equal(live(await sb.ps()).length, 4);
  });

  it('stop-first: the other replicas carry the load and every replica ends on the new version', async () => {
    const loop = clientLoop(url);
    const r = await up('v3', 4, 'parallelism: 2, order: stop-first, monitor: 500ms');
    const seen = await loop.stop();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(seen.failed, [], `${seen.failed.length} of ${seen.ok + seen.failed.length} requests failed`);
    await allAnswer('v3', 4);
  });

  it('a version failing its healthcheck rolls back by itself, the client sees no failure, up --wait says why', async () => {
    const loop = clientLoop(url);
    let seen: Awaited<ReturnType<typeof loop.stop>> | undefined;
    try {
      const r = await up('broken', 4, 'parallelism: 1, order: start-first, monitor: 2s, failure_action: rollback');
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /service "web": roll(?:ing|ed) back to revision \d+: task of slot \d+ failed: unhealthy/, 'under way or already done, depending on timing');
      let rows: PsRow[] = [];
      await waitFor(async () => {
        rows = live(await sb.ps());
        return rows.length === 4 && rows.every((x) => x.health === 'healthy');
      }, 30_000, 'the rollback to finish').catch(async (err: Error) => {
        const all = await sb.run(['ps', '-a', '--format', 'json']);
        const ev = await sb.run(['events', '--since', '0', '--no-follow']);
        throw new Error(`${err.message}; running: ${JSON.stringify(rows.map((x) => [x.slot, x.revision, x.health]))} DEBUG ${all.stdout} EV ${ev.stdout}`);
      });
      await new Promise((res) => setTimeout(res, 1000));
    } finally {
      seen = await loop.stop();
    }
    assert.deepEqual(seen.failed, [], `${seen.failed.length} of ${seen.ok + seen.failed.length} requests failed`);
    assert.ok(!seen.versions.has('broken'), 'the broken version never received traffic');
    await allAnswer('v3', 4);
    const history = await sb.ok(['service', 'history', 'web']);
    assert.match(history, /rollback/);
    assert.match(history, /environment/);
  });

  it('failure_action pause: the update stops where it is and up --wait says why', async () => {
    const r = await up('broken', 4, 'parallelism: 1, order: stop-first, monitor: 2s, failure_action: pause');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /update paused: task of slot 1 failed/);
    const rows = await sb.ps();
    assert.ok(live(rows).filter((x) => x.slot !== 1).length === 3, 'slots 2-4 still run the old version');
    await allAnswer('v3', 3);
    // A rollback asked for by hand returns slot 1 too.
    await sb.ok(['service', 'rollback', 'web'], { timeoutMs: 60_000 });
    await waitFor(async () => live(await sb.ps()).filter((x) => x.health === 'healthy').length === 4, 30_000, 'four healthy replicas');
    await allAnswer('v3', 4);
  });

  it('service update changes one thing and rolls it out', async () => {
    const out = await sb.ok(['service', 'update', '--env-add', 'VERSION=v4', '--update-parallelism', '0', 'web'], { timeoutMs: 60_000 });
    assert.match(out, /Updating/);
    await allAnswer('v4', 4);
    const bad = await sb.run(['service', 'update', '--update-order', 'sideways', 'web']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--update-order: expected start-first, stop-first/);
  });

  it('kill -9 of the daemon halfway through an update of 10: it resumes, each slot on the new version exactly once', async () => {
    assert.equal((await up('v4', 10, 'parallelism: 0')).code, 0);
    sb.write('compose.yaml', compose(project, port, 'v5', 10, 'parallelism: 1, order: stop-first, monitor: 300ms'));
    await sb.ok(['up', '-d']);
    await waitFor(async () => (await sb.ps()).filter((x) => x.revision > 0 && x.state === 'running').length > 0 && (await httpGet(url).catch(() => ({ body: '' }))).body === 'v5', 30_000, 'some slots updated');
    const daemon = sb.daemonPid()!;
    process.kill(daemon, 'SIGKILL');
    await waitFor(() => !alive(daemon), 5000, 'daemon to die');
    await waitFor(async () => {
      const rows = live(await sb.ps());
      return rows.length === 10 && rows.every((x) => x.health === 'healthy');
    }, 90_000, 'the update to finish after the restart');
    const all = (await sb.ps()).filter((x) => x.service === 'web');
    const slots = all.map((x) => x.slot).sort((a, b) => a - b);
    assert.deepEqual(slots, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'one task per slot');
    await allAnswer('v5', 10);
  });
});

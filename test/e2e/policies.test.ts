// Restart policies, depends_on conditions, `up --wait` failures, attached `up`
// with Ctrl-C, and the TCP API's token, each against a real daemon.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, alive, freePort, tlsCall, waitFor } from '../helpers/baton.js';

describe('restart policies and depends_on', () => {
  const sb = new Sandbox();
  after(async () => {
    await sb.run(['down', '-p', 'pol']);
    await sb.cleanup();
  });

  it('on-failure:2 gives up after two restarts; up --wait fails naming the service', async () => {
    // A healthcheck that cannot pass before the crash: without one, a task that runs for a moment may count as up.
    sb.write('crash.yaml', `name: pol\nx-baton: {driver: process}\nservices:\n  crash:\n    command: ["sh", "-c", "echo boom >&2; exit 3"]\n    restart: on-failure:2\n    healthcheck: {test: ["CMD", "true"], interval: 10s}\n`);
    const r = await sb.run(['up', '--wait', '--wait-timeout', '30', '-f', 'crash.yaml']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /service "crash"/);
    await waitFor(async () => {
      const t = (await sb.ps('pol')).find((x) => x.service === 'crash')!;
      return t.state === 'failed' && t.restarts === 2;
    }, 20_000, 'two restarts then give up');
    const t = (await sb.ps('pol')).find((x) => x.service === 'crash')!;
    assert.match(t.error ?? '', /exited with code 3/);
    const logs = await sb.ok(['logs', '-p', 'pol', 'crash']);
    // As with a restarted Compose container, the slot's log holds every attempt.
    assert.equal((logs.match(/boom/g) ?? []).length, 3);
  });

  it('crash loops back off exponentially', async () => {
    sb.write('loop.yaml', `name: pol\nx-baton: {driver: process}\nservices:\n  loop:\n    command: ["sh", "-c", "exit 1"]\n    restart: always\n`);
    await sb.ok(['up', '-d', '-f', 'loop.yaml', '--remove-orphans']);
    await waitFor(async () => ((await sb.ps('pol')).find((x) => x.service === 'loop')?.restarts ?? 0) >= 4, 20_000, '4 restarts');
    const ev = await sb.ok(['events', '--no-follow', '--json', '-p', 'pol']);
    const restarts = ev.trim().split('\n').map((l) => JSON.parse(l) as { type: string; service?: string; time: string }).filter((e) => e.type === 'task.restart' && e.service === 'loop');
    const gaps = restarts.slice(1).map((e, i) => Date.parse(e.time) - Date.parse(restarts[i].time));
    assert.ok(gaps.length >= 3);
    assert.ok(gaps[2] > gaps[0], `gaps grow: ${gaps.join(', ')}`);
    await sb.ok(['down', '-p', 'pol']);
  });

  it('service_completed_successfully waits for a one-shot to finish', async () => {
    sb.write(
      'deps.yaml',
      `name: pol\nx-baton: {driver: process}\nservices:\n  migrate:\n    command: ["sh", "-c", "sleep 1; echo done"]\n  app:\n    command: ["sleep", "1000"]\n    depends_on:\n      migrate: {condition: service_completed_successfully}\n`,
    );
    await sb.ok(['up', '-d', '--wait', '-f', 'deps.yaml']);
    const rows = await sb.ps('pol');
    const migrate = rows.find((x) => x.service === 'migrate')!;
    const app = rows.find((x) => x.service === 'app')!;
    assert.equal(migrate.state, 'complete');
    assert.equal(app.state, 'running');
    assert.ok(Date.parse(app.startedAt!) >= Date.parse((migrate as unknown as { finishedAt: string }).finishedAt));
    await sb.ok(['down', '-p', 'pol']);
  });

  it('a port already in use fails up and names the service', async () => {
    const port = await freePort();
    const net = await import('node:net');
    const blocker = net.createServer().listen(port, '0.0.0.0');
    await new Promise((r) => blocker.once('listening', r));
    try {
      sb.write('port.yaml', `name: pol\nx-baton: {driver: process}\nservices:\n  web:\n    command: ["sleep", "1000"]\n    ports: ["${port}:80"]\n`);
      const r = await sb.run(['up', '-d', '-f', 'port.yaml']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`service "web".*port ${port}.*in use`));
      const st = await sb.run(['ps', '-p', 'pol']);
      assert.equal(st.code, 1, 'nothing was deployed');
    } finally {
      blocker.close();
    }
  });
});

describe('attached up and the TCP API', () => {
  const sb = new Sandbox();
  after(async () => {
    await sb.run(['down', '-p', 'att']);
    await sb.cleanup();
  });

  it('up without -d streams logs and Ctrl-C stops the services', async () => {
    sb.write('compose.yaml', `name: att\nx-baton: {driver: process}\nservices:\n  talker:\n    command: ["sh", "-c", "while true; do echo tick; sleep 0.2; done"]\n`);
    const child = sb.spawn(['up']);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => /talker-1\s+\| tick/.test(out), 20_000, 'attached logs');
    const pid = (await sb.ps('att'))[0].pid!;
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 0);
    assert.match(out, /Service talker\s+Stopped/);
    await waitFor(() => !alive(pid), 10_000, 'task process to end');
  });

  it('attached up shows the logs docker compose would: not those of attach: false, --attach and --no-attach as asked', async () => {
    const file = `name: att2\nx-baton: {driver: process}\nservices:\n  loud:\n    command: ["sh", "-c", "while true; do echo loud; sleep 0.2; done"]\n  quiet:\n    attach: false\n    command: ["sh", "-c", "while true; do echo quiet; sleep 0.2; done"]\n  other:\n    command: ["sh", "-c", "while true; do echo other; sleep 0.2; done"]\n`;
    sb.write('compose.yaml', file);
    const attached = async (args: string[], expect: RegExp): Promise<string> => {
      const child = sb.spawn(['up', ...args]);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(() => expect.test(out), 20_000, `attached logs for ${args.join(' ') || 'up'}`);
      // Long enough for every running service to have printed a few lines.
      await new Promise((r) => setTimeout(r, 1000));
      child.kill('SIGINT');
      await new Promise<number | null>((r) => child.on('exit', r));
      return out;
    };
    const all = await attached([], /loud-1\s+\| loud[\s\S]*other-1\s+\| other|other-1\s+\| other[\s\S]*loud-1\s+\| loud/);
    assert.match(all, /Attaching to loud, other\n/);
    assert.doesNotMatch(all, /\| quiet/, 'attach: false');
    const some = await attached(['--no-attach', 'other', '--attach', 'quiet', '--attach', 'other'], /quiet-1\s+\| quiet/);
    assert.match(some, /Attaching to quiet\n/);
    assert.doesNotMatch(some, /\| (loud|other)/);
    await sb.run(['down', '-p', 'att2']);
    const bad = await sb.run(['up', '--attach', 'nope', '-p', 'att2']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /no such service: nope/);
    assert.ok(!(JSON.parse(await sb.ok(['ls', '--format', 'json'])) as { name: string }[]).some((p) => p.name === 'att2'), 'nothing deployed');
  });

  it('--abort-on-container-exit and --exit-code-from stop the project at the first exit and return the code, as in CI pipelines', async () => {
    sb.write('compose.yaml', `name: abrt\nx-baton: {driver: process}\nservices:\n  server:\n    command: ["sh", "-c", "while true; do echo serving; sleep 0.2; done"]\n  tester:\n    command: ["sh", "-c", "sleep 1; echo testing done; exit 7"]\n    depends_on: [server]\n`);
    const r = await sb.run(['up', '--abort-on-container-exit', '--exit-code-from', 'tester'], { timeoutMs: 60_000 });
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stdout, /tester-1\s+\| testing done/);
    assert.match(r.stdout, /tester-1 exited with code 7\nAborting on container exit\.\.\./);
    assert.match(r.stdout, /Service server\s+Stopped/);
    assert.equal((await sb.ps('abrt')).filter((t) => t.state === 'running').length, 0, 'nothing runs after the abort');
    // Only a failure aborts with --abort-on-container-failure: a task that completes with 0 does not.
    sb.write('compose.yaml', `name: abrt\nx-baton: {driver: process}\nservices:\n  server:\n    command: ["sh", "-c", "while true; do sleep 0.2; done"]\n  fine:\n    command: ["true"]\n  bad:\n    command: ["sh", "-c", "sleep 1.5; exit 3"]\n`);
    const f = await sb.run(['up', '--abort-on-container-failure'], { timeoutMs: 60_000 });
    assert.equal(f.code, 3, f.stderr);
    assert.match(f.stdout, /fine-1 exited with code 0\n(?![\s\S]*Aborting[\s\S]*fine-1)[\s\S]*bad-1 exited with code 3\nAborting on container exit/);
    // Refused before anything is deployed, as docker compose refuses them.
    await sb.run(['down', '-p', 'abrt']);
    for (const [args, message] of [
      [['up', '-d', '--abort-on-container-exit'], /--abort-on-container-exit and --detach exclude each other/],
      [['up', '--exit-code-from', 'nope'], /--exit-code-from: no such service: nope/],
      [['up', '--abort-on-container-exit', '--abort-on-container-failure'], /exclude each other/],
    ] as [string[], RegExp][]) {
      const bad = await sb.run(args);
      assert.notEqual(bad.code, 0, args.join(' '));
      assert.match(bad.stderr, message);
    }
    assert.ok(!(JSON.parse(await sb.ok(['ls', '--format', 'json'])) as { name: string }[]).some((p) => p.name === 'abrt'), 'nothing deployed');
  });

  it('up --scale, --no-deps, --pull and --force-recreate act as in docker compose', async () => {
    sb.write('compose.yaml', `name: upf\nx-baton: {driver: process}\nservices:\n  db:\n    command: ["sleep", "60"]\n  web:\n    command: ["sleep", "60"]\n    depends_on: [db]\n`);
    await sb.ok(['up', '-d', '--no-deps', 'web']);
    let ps = await sb.ps('upf');
    assert.deepEqual(ps.map((t) => [t.service, t.state]), [['web', 'running']], '--no-deps: web runs without db');
    await sb.ok(['up', '-d', '--scale', 'web=3']);
    ps = await sb.ps('upf');
    assert.equal(ps.filter((t) => t.service === 'web' && t.state === 'running').length, 3);
    assert.equal(ps.filter((t) => t.service === 'db' && t.state === 'running').length, 1);
    const before = ps.filter((t) => t.service === 'db').map((t) => t.id);
    const again = await sb.ok(['up', '-d', '--scale', 'web=3', '--force-recreate']);
    assert.match(again, /Service db\s+Recreated/);
    await waitFor(async () => (await sb.ps('upf')).some((t) => t.service === 'db' && t.state === 'running' && !before.includes(t.id)), 20_000, 'a new db task');
    const badScale = await sb.run(['up', '-d', '--scale', 'nope=2']);
    assert.match(badScale.stderr, /--scale: no such service: nope/);
    const badPull = await sb.run(['up', '-d', '--pull', 'sometimes']);
    assert.match(badPull.stderr, /--pull: expected always, missing or never, got "sometimes"/);
    await sb.run(['down', '-p', 'upf']);
  });

  it('ps --services, --status and --filter status= list as docker compose ps does', async () => {
    sb.write('compose.yaml', `name: pss\nx-baton: {driver: process}\nservices:\n  runs:\n    command: ["sleep", "60"]\n  ends:\n    command: ["true"]\n`);
    await sb.ok(['up', '-d']);
    await waitFor(async () => (await sb.ps('pss')).some((t) => t.service === 'ends' && t.state === 'complete'), 10_000, 'ends completes');
    assert.deepEqual((await sb.ok(['ps', '--services', '-p', 'pss'])).trim().split('\n').sort(), ['ends', 'runs']);
    assert.equal((await sb.ok(['ps', '--services', '--status', 'exited', '-p', 'pss'])).trim(), 'ends');
    const running = (await sb.ps('pss')).find((t) => t.service === 'runs')!;
    assert.equal((await sb.ok(['ps', '-q', '--filter', 'status=running', '-p', 'pss'])).trim(), running.id);
    await sb.ok(['stop', 'runs', '-p', 'pss']);
    assert.deepEqual((await sb.ok(['ps', '--services', '--status', 'exited', '-p', 'pss'])).trim().split('\n').sort(), ['ends', 'runs'], 'a stopped service is exited too');
    const bad = await sb.run(['ps', '--status', 'sleeping', '-p', 'pss']);
    assert.match(bad.stderr, /--status: expected one of running, exited, created, dead/);
    await sb.run(['down', '-p', 'pss']);
  });

  it('logs --since and --until keep a time window, --tail the last lines of it, as docker compose logs', async () => {
    sb.write('compose.yaml', `name: lgs\nx-baton: {driver: process}\nservices:\n  talk:\n    command: ["sh", "-c", "echo first; sleep 1.5; echo second; exec sleep 60"]\n`);
    await sb.ok(['up', '-d']);
    await waitFor(async () => /second/.test(await sb.ok(['logs', '-p', 'lgs'])), 10_000, 'both lines');
    const stamped = await sb.ok(['logs', '-t', '--no-log-prefix', '-p', 'lgs']);
    const at = /^(\S+) second$/m.exec(stamped)?.[1];
    assert.ok(at, stamped);
    const lines = async (...args: string[]): Promise<string[]> => (await sb.ok(['logs', '--no-log-prefix', '-p', 'lgs', ...args])).trim().split('\n').filter(Boolean);
    assert.deepEqual(await lines('--since', at!), ['second']);
    assert.deepEqual(await lines('--until', at!), ['first']);
    assert.deepEqual(await lines('--since', '1h'), ['first', 'second']);
    assert.deepEqual(await lines('--since', '1h', '--tail', '1'), ['second'], 'the tail of the window');
    assert.deepEqual(await lines('--since', String(Math.floor(Date.parse(at!) / 1000) + 3600)), [], 'unix seconds');
    const bad = await sb.run(['logs', '--since', 'yesterday-ish', '-p', 'lgs']);
    assert.match(bad.stderr, /--since: expected a timestamp/);
    await sb.run(['down', '-p', 'lgs']);
  });

  it('kill -s delivers a signal (a reload), kill stops the service for good whatever its restart policy, as docker compose kill', async () => {
    sb.write('compose.yaml', `name: kil\nx-baton: {driver: process}\nservices:\n  svc:\n    restart: always\n    command: ["sh", "-c", "trap 'echo reloaded' HUP; while true; do sleep 0.1; done"]\n`);
    await sb.ok(['up', '-d', '--wait']);
    const [before] = await sb.ps('kil');
    const hup = await sb.ok(['kill', '-s', 'HUP', 'svc', '-p', 'kil']);
    assert.match(hup, /Container kil-svc-1\s+Killed/);
    await waitFor(async () => /reloaded/.test(await sb.ok(['logs', '-p', 'kil'])), 10_000, 'the trap ran');
    const [still] = await sb.ps('kil');
    assert.deepEqual([still.id, still.state], [before.id, 'running'], 'the same task runs on');
    await sb.ok(['kill', '-p', 'kil']);
    await waitFor(async () => (await sb.ps('kil')).every((t) => t.state !== 'running'), 10_000, 'killed');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await sb.ps('kil')).filter((t) => t.state === 'running').length, 0, 'restart: always does not bring it back');
    await sb.ok(['start', '-p', 'kil']);
    await waitFor(async () => (await sb.ps('kil')).some((t) => t.state === 'running'), 10_000, 'start brings it back');
    const bad = await sb.run(['kill', '-s', 'NOPE!', '-p', 'kil']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /signal: expected a signal name/);
    await sb.run(['down', '-p', 'kil']);
  });

  it('pause freezes a service\'s processes and unpause thaws them; a paused task still stops', async () => {
    sb.write('compose.yaml', `name: pau\nx-baton: {driver: process}\nservices:\n  ticker:\n    command: ["sh", "-c", "while true; do echo tick; sleep 0.1; done"]\n`);
    await sb.ok(['up', '-d', '--wait']);
    const ticks = async (): Promise<number> => (await sb.ok(['logs', '-p', 'pau'])).split('\n').filter((l) => l.includes('tick')).length;
    assert.match(await sb.ok(['pause', '-p', 'pau']), /Container pau-ticker-1\s+Paused/);
    const frozen = await ticks();
    await new Promise((r) => setTimeout(r, 800));
    assert.ok((await ticks()) <= frozen + 1, 'no output while paused');
    assert.match(await sb.ok(['ps', '-p', 'pau']), /Up .*\(Paused\)/);
    assert.equal((await sb.ok(['ps', '--services', '--status', 'paused', '-p', 'pau'])).trim(), 'ticker');
    assert.match(await sb.ok(['unpause', '-p', 'pau']), /Unpaused/);
    await waitFor(async () => (await ticks()) > frozen + 3, 5_000, 'ticking again');
    await sb.ok(['pause', '-p', 'pau']);
    const t0 = Date.now();
    await sb.ok(['stop', '-p', 'pau']);
    assert.ok(Date.now() - t0 < 8_000, 'a paused task stops on its stop signal, not at the end of the grace period');
    await sb.run(['down', '-p', 'pau']);
  });

  it('stop, restart and down -t cut a long grace period short, as docker compose -t', async () => {
    sb.write('compose.yaml', `name: tmo\nx-baton: {driver: process}\nservices:\n  stubborn:\n    stop_grace_period: 60s\n    command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]\n`);
    await sb.ok(['up', '-d', '--wait']);
    const timed = async (args: string[]): Promise<number> => {
      const t0 = Date.now();
      await sb.ok([...args, '-p', 'tmo'], { timeoutMs: 90_000 });
      return Date.now() - t0;
    };
    const stopMs = await timed(['stop', '-t', '1']);
    assert.ok(stopMs < 10_000, `stop -t 1 took ${stopMs} ms (the grace period is 60 s)`);
    assert.equal((await sb.ps('tmo')).filter((t) => t.state === 'running').length, 0);
    await sb.ok(['start', '-p', 'tmo']);
    await waitFor(async () => (await sb.ps('tmo')).some((t) => t.state === 'running'), 10_000, 'started');
    const [old] = (await sb.ps('tmo')).filter((t) => t.state === 'running');
    await sb.ok(['restart', '-t', '1', '-p', 'tmo']);
    await waitFor(async () => (await sb.ps('tmo')).some((t) => t.state === 'running' && t.id !== old.id), 15_000, 'restarted within seconds, not after 60 s');
    const downMs = await timed(['down', '-t', '0']);
    assert.ok(downMs < 10_000, `down -t 0 took ${downMs} ms`);
    // Attached, Ctrl-C stops with the same timeout (up -t is --timeout, as in Compose).
    const child = sb.spawn(['up', '-t', '1', '-p', 'tmo']);
    await waitFor(async () => (await sb.ps('tmo').catch(() => [])).some((t) => t.state === 'running'), 20_000, 'attached up running');
    const t0 = Date.now();
    child.kill('SIGINT');
    assert.equal(await new Promise<number | null>((r) => child.on('exit', r)), 0);
    assert.ok(Date.now() - t0 < 10_000, `Ctrl-C with up -t 1 took ${Date.now() - t0} ms`);
    await sb.run(['down', '-t', '0', '-p', 'tmo']);
    const bad = await sb.run(['stop', '-t', 'soon', '-p', 'tmo']);
    assert.match(bad.stderr, /--timeout: expected a number of seconds/);
  });

  it('the TCP API answers only with the token', async () => {
    const port = await freePort();
    const other = new Sandbox();
    const daemon = other.spawn(['daemon', '--listen', `127.0.0.1:${port}`, '--token', 's3cret']);
    try {
      const url = `https://127.0.0.1:${port}/v1/projects`;
      const caFile = join(other.home, 'tls', 'server.crt');
      let ca = '';
      await waitFor(async () => {
        try {
          ca = readFileSync(caFile, 'utf8');
          await tlsCall(url, { ca });
          return true;
        } catch {
          return false;
        }
      }, 15_000, 'tcp api');
      assert.equal((await tlsCall(url, { ca })).status, 401);
      assert.equal((await tlsCall(url, { ca, token: 'nope' })).status, 401);
      assert.equal((await tlsCall(url, { ca, token: 's3cret' })).status, 200);
      const ls = await other.ok(['ls', '--format', 'json'], { env: { BATON_HOST: `https://127.0.0.1:${port}`, BATON_TOKEN: 's3cret', BATON_TLS_CA: caFile } });
      assert.deepEqual(JSON.parse(ls), []);
      const r = await sb.run(['daemon', '--listen', `127.0.0.1:${port + 1}`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /needs a token/);
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.on('exit', r));
      await other.cleanup();
    }
  });
});

// Swarm's stack and service commands (issue 5), end to end: a real daemon
// serving its API on TCP with TLS and a token, and the real CLI reaching it
// only through --host (its own BATON_HOME has no daemon), with real processes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Sandbox, freePort, httpGet, projectProcesses, tlsCall, waitFor, type RunResult } from '../helpers/baton.js';

const TOKEN = `stack-e2e-${process.pid}`;
const SERVER = `
import http from 'node:http';
http.createServer((req, res) => res.end('slot ' + process.env.BATON_SLOT)).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
`;

interface TaskLine {
  ID: string;
  Name: string;
  Node: string;
  DesiredState: string;
  CurrentState: string;
  Error: string;
  Ports: string;
}
interface ServiceLine {
  ID: string;
  Name: string;
  Mode: string;
  Replicas: string;
  Ports: string;
}

const jsonLines = <T>(out: string): T[] => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

describe('stack and service commands against a remote daemon', () => {
  const sb = new Sandbox();
  const stack = `st${process.pid}`;
  let daemon: ChildProcess;
  let host = '';
  let published = 0;
  let remote: Record<string, string> = {};

  /** The CLI with --host: a home of its own where no daemon runs, the token and the daemon's certificate. */
  const cli = (args: string[], env: Record<string, string> = {}): Promise<RunResult> => sb.run(['--host', host, ...args], { env: { ...remote, ...env } });
  const ok = async (args: string[]): Promise<string> => {
    const r = await cli(args);
    if (r.code !== 0) throw new Error(`baton ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  };
  const services = async (): Promise<ServiceLine[]> => jsonLines<ServiceLine>(await ok(['stack', 'services', stack, '--format', 'json']));
  const converged = (want: Record<string, string>) => async (): Promise<boolean> => {
    const now = Object.fromEntries((await services()).map((s) => [s.Name, s.Replicas]));
    return JSON.stringify(now) === JSON.stringify(want);
  };
  /** A failure is said in one line, without a stack trace. */
  const failsWith = (r: RunResult, message: RegExp): void => {
    assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  };

  before(async () => {
    const port = await freePort();
    published = await freePort();
    host = `https://127.0.0.1:${port}`;
    const elsewhere = join(sb.dir, 'client-home');
    mkdirSync(elsewhere);
    remote = { BATON_HOME: elsewhere, BATON_TOKEN: TOKEN, BATON_TLS_CA: join(sb.home, 'tls', 'server.crt') };
    sb.write('server.mjs', SERVER);
    sb.write(
      'stack.yaml',
      `x-baton: {driver: process}
services:
  web:
    command: ["node", "server.mjs"]
    ports: ["${published}:8080"]
    deploy: {replicas: 2}
  worker:
    command: ["node", "-e", "let i = 0; setInterval(() => console.log('tick ' + (++i)), 100)"]
`,
    );
    sb.write(
      'web-only.yaml',
      `x-baton: {driver: process}
services:
  web:
    command: ["node", "server.mjs"]
    ports: ["${published}:8080"]
    deploy: {replicas: 2}
`,
    );
    sb.write('bad.yaml', 'services:\n  web:\n    command: ["true"]\n    deploy:\n      replicas: many\n');
    daemon = sb.spawn(['daemon', '--listen', `127.0.0.1:${port}`, '--token', TOKEN]);
    await waitFor(async () => {
      try {
        return (await tlsCall(`${host}/v1/version`, { token: TOKEN, ca: readFileSync(remote.BATON_TLS_CA, 'utf8') })).status === 200;
      } catch {
        return false;
      }
    }, 15_000, 'the TCP API');
  });

  after(async () => {
    await cli(['stack', 'rm', stack]);
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.on('exit', r));
    await sb.cleanup();
  });

  it('stack deploy creates the services and returns, detached', async () => {
    const out = await ok(['stack', 'deploy', '-c', 'stack.yaml', stack]);
    assert.equal(out, `Creating service ${stack}_web\nCreating service ${stack}_worker\n`);
    await waitFor(converged({ [`${stack}_web`]: '2/2', [`${stack}_worker`]: '1/1' }), 30_000, 'both services to run');
    assert.match((await httpGet(`http://127.0.0.1:${published}/`)).body, /^slot [12]$/);
  });

  it('stack ls and stack services', async () => {
    assert.match(await ok(['stack', 'ls']), new RegExp(`^NAME\\s+SERVICES\\n(.*\\n)*${stack}\\s+2\\n`));
    assert.deepEqual(jsonLines(await ok(['stack', 'ls', '--format', 'json'])), [{ Name: stack, Services: '2' }]);
    assert.equal(await ok(['stack', 'ls', '--format', '{{.Name}}={{.Services}}']), `${stack}=2\n`);
    const table = (await ok(['stack', 'services', stack])).trim().split('\n');
    assert.match(table[0], /^ID\s+NAME\s+MODE\s+REPLICAS\s+IMAGE\s+PORTS$/);
    assert.match(table[1], new RegExp(`^[0-9a-f]{12}\\s+${stack}_web\\s+replicated\\s+2/2\\s+\\*:${published}->8080/tcp$`));
    assert.match(table[2], new RegExp(`^[0-9a-f]{12}\\s+${stack}_worker\\s+replicated\\s+1/1$`));
    const ids = (await ok(['stack', 'services', '-q', stack])).trim().split('\n');
    assert.deepEqual(ids, (await services()).map((s) => s.ID));
  });

  it('stack ps lists every task with its node, state and ports', async () => {
    const rows = jsonLines<TaskLine>(await ok(['stack', 'ps', stack, '--format', 'json']));
    assert.deepEqual(rows.map((r) => r.Name), [`${stack}_web.1`, `${stack}_web.2`, `${stack}_worker.1`]);
    for (const r of rows) {
      assert.match(r.ID, /^[0-9a-f]{12}$/);
      assert.equal(r.Node, hostname());
      assert.equal(r.DesiredState, 'Running');
      assert.match(r.CurrentState, /^Running (less than a second|\d+ seconds?|about a minute) ago$/);
      assert.equal(r.Error, '');
    }
    assert.match(rows[0].Ports, /^127\.0\.0\.1:\d+->8080\/tcp$/);
    const table = (await ok(['stack', 'ps', stack])).trim().split('\n');
    assert.match(table[0], /^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR\s+PORTS$/);
    assert.equal(table.length, 4);
    assert.deepEqual((await ok(['stack', 'ps', '-q', stack])).trim().split('\n'), rows.map((r) => r.ID));
    assert.equal((await ok(['stack', 'ps', '--no-trunc', '--filter', 'name=worker', '--format', '{{.Name}} {{.DesiredState}}', stack])), `${stack}_worker.1 Running\n`);
  });

  it('service ls, ps and inspect, by STACK_SERVICE, by a bare name with -p, and by id', async () => {
    const all = jsonLines<ServiceLine>(await ok(['service', 'ls', '--format', 'json']));
    assert.deepEqual(all.map((s) => [s.Name, s.Mode, s.Replicas]), [[`${stack}_web`, 'replicated', '2/2'], [`${stack}_worker`, 'replicated', '1/1']]);
    const ps = jsonLines<TaskLine>(await ok(['service', 'ps', `${stack}_web`, '--format', 'json']));
    assert.deepEqual(ps.map((r) => r.Name), [`${stack}_web.1`, `${stack}_web.2`]);
    assert.deepEqual(jsonLines<TaskLine>(await ok(['service', 'ps', '-p', stack, 'web', '--format', 'json'])).map((r) => r.ID), ps.map((r) => r.ID));

    const byName = JSON.parse(await ok(['service', 'inspect', `${stack}_web`])) as { ID: string; Spec: { Name: string; Mode: { Replicated: { Replicas: number } }; EndpointSpec: { Ports: { PublishedPort: number; TargetPort: number }[] } } }[];
    assert.equal(byName.length, 1);
    assert.equal(byName[0].Spec.Name, `${stack}_web`);
    assert.equal(byName[0].Spec.Mode.Replicated.Replicas, 2);
    assert.deepEqual(byName[0].Spec.EndpointSpec.Ports.map((p) => [p.PublishedPort, p.TargetPort]), [[published, 8080]]);
    const webId = all[0].ID;
    assert.ok(byName[0].ID.startsWith(webId));
    const byId = JSON.parse(await ok(['service', 'inspect', webId.slice(0, 6), `${stack}_worker`])) as { Spec: { Name: string } }[];
    assert.deepEqual(byId.map((s) => s.Spec.Name), [`${stack}_web`, `${stack}_worker`]);
    const pretty = await ok(['service', 'inspect', '--pretty', `${stack}_web`]);
    assert.match(pretty, new RegExp(`^Name:\\s+${stack}_web$`, 'm'));
    assert.match(pretty, /^Service Mode:\s+Replicated\n Replicas:\s+2$/m);
    assert.match(pretty, new RegExp(`^ PublishedPort = ${published}$`, 'm'));
  });

  it('service scale waits until the service converges', async () => {
    const out = await ok(['service', 'scale', `${stack}_web=3`]);
    assert.match(out, new RegExp(`^${stack}_web scaled to 3$`, 'm'));
    assert.match(out, /^overall progress: 3 out of 3 tasks$/m);
    assert.match(out, new RegExp(`^verify: Service ${stack}_web converged$`, 'm'));
    assert.equal((await services()).find((s) => s.Name === `${stack}_web`)?.Replicas, '3/3');
    const ps = jsonLines<TaskLine>(await ok(['stack', 'ps', stack, '--format', 'json', '--filter', 'desired-state=running']));
    assert.deepEqual(ps.map((r) => r.Name), [`${stack}_web.1`, `${stack}_web.2`, `${stack}_web.3`, `${stack}_worker.1`]);
    // Down again, detached: the answer comes at once, the slot goes soon after.
    assert.equal(await ok(['service', 'scale', '-d', `${stack}_web=2`]), `${stack}_web scaled to 2\n`);
    await waitFor(converged({ [`${stack}_web`]: '2/2', [`${stack}_worker`]: '1/1' }), 20_000, 'web back to 2');
  });

  it('service logs: a prefix per task, --tail, -t, --raw, a task id, and -f', async () => {
    const prefix = new RegExp(`^${stack}_worker\\.1\\.[0-9a-f]{12}@${hostname()}\\s+\\| tick \\d+$`);
    await waitFor(async () => (await ok(['service', 'logs', `${stack}_worker`])).split('\n').length > 3, 10_000, 'a few ticks');
    const tail = (await ok(['service', 'logs', '--tail', '2', `${stack}_worker`])).trim().split('\n');
    assert.equal(tail.length, 2);
    for (const l of tail) assert.match(l, prefix);
    const stamped = (await ok(['service', 'logs', '-n', '1', '-t', `${stack}_worker`])).trim();
    assert.match(stamped, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${stack}_worker\\.1\\.`));
    assert.match((await ok(['service', 'logs', '-n', '1', '--raw', `${stack}_worker`])).trim(), /^tick \d+$/);
    assert.match((await ok(['service', 'logs', '-n', '1', '--no-task-ids', `${stack}_worker`])).trim(), new RegExp(`^${stack}_worker\\.1@`));
    const web = (await ok(['service', 'logs', `${stack}_web`])).trim().split('\n');
    const slots = new Set(web.map((l) => new RegExp(`^${stack}_web\\.(\\d)\\.[0-9a-f]{12}@`).exec(l)?.[1]));
    assert.ok(slots.has('1') && slots.has('2') && !slots.has(undefined), web.join('\n'));
    const task = jsonLines<TaskLine>(await ok(['service', 'ps', `${stack}_web`, '--format', 'json']))[0];
    const one = (await ok(['service', 'logs', task.ID])).trim().split('\n');
    assert.ok(one.length >= 1 && one.every((l) => l.startsWith(`${stack}_web.1.${task.ID}@`)), one.join('\n'));

    const follow = sb.spawn(['--host', host, 'service', 'logs', '-f', '-n', '0', `${stack}_worker`], { env: remote });
    let seen = '';
    follow.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
    try {
      await waitFor(() => seen.split('\n').filter((l) => prefix.test(l)).length >= 3, 10_000, 'followed lines');
    } finally {
      follow.kill('SIGINT');
      await new Promise((r) => follow.on('exit', r));
    }
  });

  it('stack deploy again updates; --prune removes what the files no longer have', async () => {
    const again = await ok(['stack', 'deploy', '-c', 'web-only.yaml', stack]);
    assert.match(again, new RegExp(`^Updating service ${stack}_web \\(id: [0-9a-f]{25}\\)\\n$`));
    assert.equal((await services()).length, 2, 'without --prune the worker stays');
    const pruned = await ok(['stack', 'up', '--prune', '-c', 'web-only.yaml', stack]);
    assert.match(pruned, new RegExp(`^Removing service ${stack}_worker\\nUpdating service ${stack}_web `));
    await waitFor(async () => (await services()).map((s) => s.Name).join() === `${stack}_web`, 10_000, 'only web left');
  });

  it('says what is wrong, exit 1 and no stack trace', async () => {
    failsWith(await cli(['stack', 'ps', 'nosuch']), /^error: nothing found in stack: nosuch$/m);
    failsWith(await cli(['service', 'ps', 'nosuch_web']), /^error: no such service: nosuch_web$/m);
    failsWith(await cli(['service', 'ps', 'web']), /^error: no such service: web$/m);
    const inspect = await cli(['service', 'inspect', `${stack}_nope`]);
    failsWith(inspect, new RegExp(`^error: no such service: ${stack}_nope$`, 'm'));
    assert.equal(inspect.stdout.trim(), '[]');
    failsWith(await cli(['service', 'logs', 'nosuch_web']), /^error: no such task or service: nosuch_web$/m);
    failsWith(await cli(['service', 'scale', `${stack}_web=lots`]), /invalid scale specifier/);
    failsWith(await cli(['service', 'scale', 'nosuch_web=2']), /^error: no such service: nosuch_web$/m);
    const bad = await cli(['stack', 'deploy', '-c', 'bad.yaml', stack]);
    failsWith(bad, /bad\.yaml:5:\d+: services\.web\.deploy\.replicas/);
    failsWith(await cli(['stack', 'deploy', '-c', 'stack.yaml', 'Bad Name']), /invalid stack name/);
    failsWith(await cli(['stack', 'ls'], { BATON_TOKEN: 'wrong' }), /token is not valid/);
    failsWith(await sb.run(['--host', 'http://127.0.0.1:1', 'stack', 'ls'], { env: remote }), /--host: expected https:\/\/HOST:PORT/);
    // As docker: listing or removing a stack that is not there says so and is no failure.
    const none = await cli(['stack', 'services', 'nosuch']);
    assert.deepEqual([none.code, none.stdout, none.stderr], [0, '', 'Nothing found in stack: nosuch\n']);
    assert.equal((await services()).map((s) => s.Replicas).join(), '2/2', 'a rejected deploy changed nothing');
  });

  it('--help on each command, and tcp:// taken as https://', async () => {
    const stackHelp = await ok(['stack', '--help']);
    for (const c of ['deploy|up', 'ls|list', 'ps', 'services', 'rm|remove']) assert.match(stackHelp, new RegExp(`^  ${c.replace('|', '\\|')}`, 'm'));
    const serviceHelp = await ok(['service', '--help']);
    for (const c of ['ls|list', 'ps', 'inspect', 'scale', 'logs']) assert.match(serviceHelp, new RegExp(`^  ${c.replace('|', '\\|')}`, 'm'));
    for (const c of [['stack', 'deploy'], ['stack', 'ls'], ['stack', 'ps'], ['stack', 'services'], ['stack', 'rm'], ['service', 'ls'], ['service', 'ps'], ['service', 'inspect'], ['service', 'scale'], ['service', 'logs']]) {
      assert.match(await ok([...c, '--help']), new RegExp(`^Usage: baton ${c.join(' ')}`, 'm'));
    }
    assert.match(await ok(['--help']), /-H, --host <url>/);
    const viaTcp = await sb.run(['-H', host.replace('https://', 'tcp://'), 'stack', 'ls', '--format', '{{.Name}}'], { env: remote });
    assert.equal(viaTcp.stdout, `${stack}\n`);
  });

  it('stack rm removes the stack and stops its tasks; again, it says nothing is there', async () => {
    assert.ok(projectProcesses(stack).length >= 2, 'web processes run');
    assert.equal(await ok(['stack', 'rm', stack]), `Removing service ${stack}_web\n`);
    assert.equal(await ok(['stack', 'ls', '--format', 'json']), '');
    await waitFor(() => projectProcesses(stack).length === 0, 10_000, 'the processes to end');
    const again = await cli(['stack', 'down', stack]);
    assert.deepEqual([again.code, again.stdout, again.stderr], [0, '', `Nothing found in stack: ${stack}\n`]);
  });
});

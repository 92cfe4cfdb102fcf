// End to end with the real CLI, a real daemon and a real Docker engine:
// a healthchecked db with a named volume, 3 web replicas behind a published
// port, and a worker that reaches db by its service name.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerForTests } from '../helpers/docker.js';
import { Sandbox, alive, freePort, httpGet, waitFor, type PsRow } from '../helpers/baton.js';

const engine = await dockerForTests();

describe('a docker project end to end', { skip: engine.skip }, () => {
  const sb = new Sandbox();
  const project = `dk${process.pid}`;
  const label = `com.baton.project=${project}`;
  let published = 0;
  const env = (): Record<string, string> => ({ DOCKER_HOST: engine.host });
  const baton = (args: string[]): Promise<string> => sb.ok(args, { env: env() });
  const docker = (...args: string[]): string => execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: engine.host }, encoding: 'utf8' }).trim();
  const containers = (service?: string): string[] =>
    docker('ps', '-aq', '--filter', `label=${label}`, ...(service ? ['--filter', `label=com.baton.service=${service}`] : [])).split('\n').filter(Boolean);
  const live = (): string[] => docker('ps', '-q', '--filter', `label=${label}`).split('\n').filter(Boolean).sort();
  const ps = async (): Promise<PsRow[]> => JSON.parse(await baton(['ps', '--format', 'json'])) as PsRow[];
  const running = async (service: string): Promise<PsRow[]> => (await ps()).filter((r) => r.service === service && r.state === 'running');
  const compose = (extra = ''): string => `name: ${project}
services:
  db:
    image: ${engine.image}
    command: ["sh", "-c", "echo up >> /data/log; exec httpd -f -p 5432 -h /data"]
    init: true
    volumes: ["dbdata:/data"]
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1:5432/log"]
      interval: 1s
      retries: 3
    restart: always
  web:
    image: ${engine.image}
    command: ["sh", "-c", "hostname > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    init: true
    ports: ["${published}:80"]
    deploy:
      replicas: 3
      restart_policy: {condition: any, delay: 200ms}
    depends_on:
      db: {condition: service_healthy}
  worker:
    image: ${engine.image}
    command: ["sh", "-c", "while true; do wget -qO- http://db:5432/log >/dev/null && echo reached db; sleep 1; done"]
    init: true
    restart: always
${extra}
volumes:
  dbdata: {}
`;

  before(async () => {
    published = await freePort();
    sb.write('compose.yaml', compose());
  });

  after(async () => {
    await sb.run(['down', '-v'], { env: env() });
    await sb.cleanup();
    for (const id of containers()) docker('rm', '-f', id);
    await engine.release();
  });

  it('up --wait runs every service in containers: db healthy, 3 web replicas behind the published port', async () => {
    const out = await baton(['up', '-d', '--wait']);
    assert.match(out, /db\s+Healthy 1\/1/);
    const rows = await ps();
    assert.deepEqual(rows.filter((r) => r.service === 'web' && r.state === 'running').map((r) => r.slot).sort(), [1, 2, 3]);
    assert.ok(rows.every((r) => (r as PsRow & { driver: string }).driver === 'docker'), 'image services default to the docker driver');
    assert.equal(rows.find((r) => r.service === 'db')!.health, 'healthy');
    assert.equal(containers('web').length, 3);
    assert.equal(containers().length, 5);
    const inspect = JSON.parse(docker('inspect', containers('web')[0])) as { Config: { Labels: Record<string, string> }; HostConfig: { RestartPolicy: { Name: string } } }[];
    assert.equal(inspect[0].Config.Labels['com.baton.service'], 'web');
    assert.equal(inspect[0].HostConfig.RestartPolicy.Name, 'no');
    // Every replica answers on the one published port.
    const hosts = new Set<string>();
    for (let i = 0; i < 12 && hosts.size < 3; i++) hosts.add((await httpGet(`http://127.0.0.1:${published}/`)).body.trim());
    assert.equal(hosts.size, 3, `all 3 replicas answer: ${[...hosts].join(', ')}`);
  });

  it('service names resolve between containers, all replicas together', async () => {
    const worker = containers('worker')[0];
    const answer = docker('exec', worker, 'nslookup', 'web');
    const addresses = answer.split('\n').filter((l) => /^Address: \d/.test(l));
    assert.equal(addresses.length, 3, answer);
    const tasksAnswer = docker('exec', worker, 'nslookup', 'tasks.web');
    assert.deepEqual(tasksAnswer.split('\n').filter((l) => /^Address: \d/.test(l)).sort(), [...addresses].sort(), 'tasks.web names the same replicas');
    assert.equal(docker('exec', worker, 'wget', '-qO-', 'http://db:5432/log'), 'up');
    // And each replica by the name Compose gives its container.
    assert.equal(docker('exec', worker, 'wget', '-qO-', `http://${project}-db-1:5432/log`), 'up');
    const second = docker('exec', worker, 'nslookup', `${project}-web-2`).split('\n').filter((l) => /^Address: \d/.test(l));
    assert.equal(second.length, 1, `${project}-web-2 is one replica`);
    assert.ok(addresses.includes(second[0]));
    await waitFor(async () => /reached db/.test(await baton(['logs', 'worker'])), 10_000, 'worker log through the engine');
  });

  it('exec runs in a replica\'s container with its exit code; port names the published and per-replica addresses', async () => {
    const web2 = (await running('web')).find((r) => r.slot === 2)!;
    const id = docker('ps', '-q', '--filter', `label=com.baton.task=${web2.id}`);
    assert.equal((await baton(['exec', '--index', '2', 'web', 'hostname'])).trim(), docker('inspect', '-f', '{{.Config.Hostname}}', id));
    assert.match(await baton(['exec', 'worker', 'wget', '-qO-', 'http://db:5432/log']), /^up$/m);
    const r = await sb.run(['exec', 'db', 'sh', '-c', 'echo to-stderr >&2; exit 7'], { env: env() });
    assert.equal(r.code, 7);
    assert.equal(r.stderr, 'to-stderr\n');
    const bad = await sb.run(['exec', '--index', '9', 'web', 'true'], { env: env() });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /service "web" has no running task with index 9/);
    assert.equal((await baton(['port', 'web', '80'])).trim(), `0.0.0.0:${published}`);
    const own = (await baton(['port', '--index', '2', 'web', '80'])).trim();
    assert.match(own, /^\d+\.\d+\.\d+\.\d+:\d+$/, 'where the mesh reaches replica 2: its container address here');
    assert.equal((await httpGet(`http://${own}/`)).body.trim(), docker('inspect', '-f', '{{.Config.Hostname}}', id));
  });

  it('run starts a one-off container of a service on its network, not among its replicas; --rm removes it', async () => {
    const before = containers().length;
    const r = await sb.run(['run', '--rm', '-e', 'X=from-run', 'worker', 'sh', '-c', 'echo "$X $BATON_SERVICE"; wget -qO- http://db:5432/log; nslookup web | grep -c "^Address: [0-9]"; exit 3'], { env: env() });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'from-run worker\nup\n3\n');
    assert.equal(containers().length, before, '--rm: nothing left');
    const kept = await sb.run(['run', 'worker', 'true'], { env: env() });
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal(containers().length, before + 1, 'without --rm the container stays (removed by down)');
    const bad = await sb.run(['run', 'nope', 'true'], { env: env() });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /no such service: nope/);
    assert.equal((await running('worker')).length, 1, 'the service itself is untouched');
  });

  it('cp copies a folder into a replica and files back out', async () => {
    sb.write('upload/hello.txt', 'hello container\n');
    sb.write('upload/sub/deep.txt', 'deep\n');
    await baton(['cp', '--index', '2', 'upload', 'web:/tmp']);
    assert.equal((await baton(['exec', '--index', '2', 'web', 'cat', '/tmp/upload/sub/deep.txt'])).trim(), 'deep');
    await baton(['cp', '--index', '2', 'web:/tmp/upload/hello.txt', 'back.txt']);
    assert.equal(readFileSync(join(sb.dir, 'back.txt'), 'utf8'), 'hello container\n');
    mkdirSync(join(sb.dir, 'into'));
    await baton(['cp', '--index', '2', 'web:/tmp/upload', 'into']);
    assert.equal(readFileSync(join(sb.dir, 'into/upload/sub/deep.txt'), 'utf8'), 'deep\n');
    const missing = await sb.run(['cp', 'web:/nope', 'x'], { env: env() });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /service "web": no such file or folder in the container: \/nope/);
  });

  it('cp to a name that does not exist yet copies under that name, both ways, as docker cp', async () => {
    await baton(['cp', 'web:/etc/hostname', './h.txt']);
    assert.equal(readFileSync(join(sb.dir, 'h.txt'), 'utf8').trim(), (await baton(['exec', 'web', 'hostname'])).trim());
    sb.write('local.txt', 'renamed on the way\n');
    await baton(['cp', './local.txt', 'web:/tmp/renamed.txt']);
    assert.equal(await baton(['exec', 'web', 'cat', '/tmp/renamed.txt']), 'renamed on the way\n');
    // Over an existing file; a folder under a new name; into an existing folder as itself.
    sb.write('local.txt', 'second\n');
    await baton(['cp', 'local.txt', 'web:/tmp/renamed.txt']);
    assert.equal(await baton(['exec', 'web', 'cat', '/tmp/renamed.txt']), 'second\n');
    sb.write('tree/a/b.txt', 'bee\n');
    await baton(['cp', 'tree', 'web:/tmp/forest']);
    assert.equal(await baton(['exec', 'web', 'cat', '/tmp/forest/a/b.txt']), 'bee\n');
    await baton(['cp', 'tree', 'web:/tmp/forest']);
    assert.equal(await baton(['exec', 'web', 'cat', '/tmp/forest/tree/a/b.txt']), 'bee\n', 'the folder exists now: copied into it');
    await baton(['cp', 'web:/tmp/forest/a', 'copse']);
    assert.equal(readFileSync(join(sb.dir, 'copse/b.txt'), 'utf8'), 'bee\n');
    // What docker cp refuses: a missing parent folder, a missing folder named with a slash, a folder onto a file.
    for (const [args, msg] of [
      [['cp', 'local.txt', 'web:/no/such/dir/x.txt'], /service "web": no such folder in the container: \/no\/such\/dir/],
      [['cp', 'local.txt', 'web:/tmp/notyet/'], /no such folder in the container: \/tmp\/notyet\//],
      [['cp', 'tree', 'web:/tmp/renamed.txt'], /cannot copy a folder onto the file \/tmp\/renamed.txt/],
      [['cp', 'web:/etc/hostname', 'nodir/h.txt'], /cp: .*nodir: no such folder/],
    ] as const) {
      const r = await sb.run([...args], { env: env() });
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.doesNotMatch(r.stderr, /    at /, 'no stack trace for a user mistake');
    }
  });

  it('stats measures every running task, top lists its processes', async () => {
    const list = JSON.parse(await baton(['stats', '--format', 'json'])) as { service: string; slot: number; stats: { memoryBytes: number; memoryLimitBytes: number; pids: number; cpuPercent: number; netRxBytes: number } | null }[];
    assert.deepEqual(list.map((e) => `${e.service}-${e.slot}`).sort(), ['db-1', 'web-1', 'web-2', 'web-3', 'worker-1']);
    for (const e of list) {
      assert.ok(e.stats, `${e.service}-${e.slot} measured`);
      assert.ok(e.stats.memoryBytes > 0 && e.stats.memoryLimitBytes >= e.stats.memoryBytes, JSON.stringify(e.stats));
      assert.ok(e.stats.pids >= 2, 'init and the command');
      assert.ok(e.stats.cpuPercent >= 0);
    }
    assert.ok(list.find((e) => e.service === 'worker')!.stats!.netRxBytes > 0, 'the worker has talked to db');
    assert.match(await baton(['stats']), /NAME\s+TASK\s+CPU %\s+MEM USAGE \/ LIMIT/);
    const top = await baton(['top', 'web']);
    assert.equal(top.match(/(?<!exec )httpd -f -p 80/g)?.length, 3, top);
    assert.match(top, /\bPID\b/);
  });

  it('a killed container is replaced', async () => {
    const before = await running('web');
    const victim = before[0];
    const id = docker('ps', '-q', '--filter', `label=com.baton.task=${victim.id}`);
    docker('kill', id);
    await waitFor(async () => {
      const now = await running('web');
      return now.length === 3 && !now.some((r) => r.id === victim.id);
    }, 30_000, 'a new web task in place of the killed one');
    const replaced = (await running('web')).find((r) => r.slot === victim.slot)!;
    assert.ok(replaced.restarts >= 1);
    assert.equal(docker('ps', '-q', '--filter', `label=com.baton.task=${replaced.id}`).length > 0, true);
  });

  it('scale changes the number of containers', async () => {
    await baton(['scale', 'web=2']);
    await waitFor(() => docker('ps', '-q', '--filter', `label=${label}`, '--filter', 'label=com.baton.service=web').split('\n').filter(Boolean).length === 2, 30_000, 'two web containers');
    assert.equal((await running('web')).length, 2);
  });

  it('kill -9 of the daemon: the next one adopts the running containers instead of replacing them', async () => {
    const before = (await ps()).filter((r) => r.state === 'running').map((r) => r.id).sort();
    const containersBefore = live();
    const old = sb.daemonPid()!;
    process.kill(old, 'SIGKILL');
    await waitFor(() => !alive(old), 5000, 'daemon to die');
    assert.deepEqual(live(), containersBefore, 'containers live on without the daemon');
    const after = (await ps()).filter((r) => r.state === 'running').map((r) => r.id).sort();
    assert.notEqual(sb.daemonPid(), old);
    assert.deepEqual(after, before, 'the same tasks run on');
    assert.deepEqual(live(), containersBefore);
    assert.equal(containers().length, containersBefore.length, 'the exited one-off container of run was removed as no task of the store');
    // Adopted containers are watched again: a kill is still seen and replaced.
    const victim = (await running('web'))[0];
    docker('kill', docker('ps', '-q', '--filter', `label=com.baton.task=${victim.id}`));
    await waitFor(async () => (await running('web')).length === 2 && !(await running('web')).some((r) => r.id === victim.id), 30_000, 'the adopted replica to be replaced');
  });

  it('an image that is not there is refused naming the service, and the running project is untouched', async () => {
    const tasks = (await ps()).map((r) => r.id).sort();
    sb.write('compose.yaml', compose(`  broken:\n    image: baton-test/not-here:1\n`));
    const r = await sb.run(['up', '-d'], { env: env() });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /service "broken".*image "baton-test\/not-here:1" is not present on this node and could not be pulled/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual((await ps()).map((r2) => r2.id).sort(), tasks);
    sb.write('compose.yaml', compose());
  });

  it('up builds build: sections (args, target, .dockerignore) through the engine; a failing build names the service and changes nothing', async () => {
    sb.write('app/Dockerfile', `FROM ${engine.image} AS base
ARG GREETING=default
COPY . /ctx
RUN mkdir -p /www && echo "$GREETING from build" > /www/index.html && test ! -e /ctx/secret.txt && test -e /ctx/keep.txt
FROM base AS final
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
`);
    sb.write('app/keep.txt', 'k');
    sb.write('app/secret.txt', 's');
    sb.write('app/.dockerignore', 'secret.txt\n');
    sb.write('bad/Dockerfile', `FROM ${engine.image}\nRUN echo failing on purpose; exit 3\n`);
    const app = `  app:\n    build: {context: ./app, args: {GREETING: hello}, target: final}\n`;
    const tasks = (await ps()).map((x) => x.id).sort();
    sb.write('compose.yaml', compose(app + `  bad:\n    build: ./bad\n`));
    const r = await sb.run(['up', '-d'], { env: env() });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /service "bad": build failed: The command .*returned a non-zero code: 3/);
    assert.match(r.stdout, /#bad failing on purpose/, 'the builder output is shown');
    assert.match(r.stdout, /#app Successfully tagged/, 'app was built before bad failed');
    assert.deepEqual((await ps()).map((x) => x.id).sort(), tasks, 'nothing deployed');
    sb.write('compose.yaml', compose(app));
    // An image that is there is not built again by up; baton build always builds.
    assert.doesNotMatch(await baton(['up', '-d', '--wait']), /Built/);
    assert.equal((await baton(['exec', 'app', 'cat', '/www/index.html'])).trim(), 'hello from build');
    const images = JSON.parse(await baton(['images', '--format', 'json'])) as { service: string; image: string; id?: string; sizeBytes?: number }[];
    assert.equal(images.find((i) => i.service === 'app')?.image, `${project}-app`);
    assert.match(images.find((i) => i.service === 'db')?.id ?? '', /^sha256:/);
    assert.ok((images.find((i) => i.service === 'db')?.sizeBytes ?? 0) > 0);
    const pull = await sb.run(['pull', 'db'], { env: env() });
    assert.notEqual(pull.code, 0, 'no registry here');
    assert.match(pull.stderr, /service "db": image "baton-test\/busybox:1" could not be pulled/);
    const rebuilt = await baton(['build', 'app']);
    assert.match(rebuilt, /Successfully tagged .*-app:latest/);
    assert.match(rebuilt, /Service app\s+Built/);
    sb.write('compose.yaml', compose());
  });

  it('down keeps the named volume, and its data is there after the next up', async () => {
    await baton(['down']);
    assert.deepEqual(containers(), []);
    assert.equal(docker('network', 'ls', '-q', '--filter', `label=${label}`), '', 'the project network is removed');
    assert.equal(docker('volume', 'ls', '-q', '--filter', `label=${label}`), `${project}_dbdata`);
    await baton(['up', '-d', '--wait']);
    assert.equal(docker('exec', containers('db')[0], 'cat', '/data/log'), 'up\nup');
  });

  it('down -v leaves no container, network or volume of the project', async () => {
    await baton(['down', '-v']);
    assert.deepEqual(containers(), []);
    assert.equal(docker('network', 'ls', '-q', '--filter', `label=${label}`), '');
    assert.equal(docker('volume', 'ls', '-q', '--filter', `label=${label}`), '');
    assert.equal(docker('volume', 'ls', '-q', '--filter', `name=${project}`), '');
  });
});

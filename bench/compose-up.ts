// `up` and `down` of a 5-service project (20 replicas in all, a
// healthcheck-gated depends_on) with baton and with Debian's docker-compose
// 1.29, on the same engine and the same file, side by side.
//   node --import tsx bench/compose-up.ts [ROUNDS]   (default 3)
// Needs root (or a running engine and both packages): the engine, the test
// image and the packages come from the test setup (test/helpers/docker.ts).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { BIN, benchHome } from './lib.js';
import { dockerForTests } from '../test/helpers/docker.js';

const ROUNDS = Number(process.argv[2] ?? 3);

if (spawnSync('sh', ['-c', 'command -v docker-compose'], { stdio: 'ignore' }).status !== 0) {
  if (process.getuid?.() !== 0) throw new Error('needs docker-compose: apt-get install docker-compose');
  spawnSync('apt-get', ['install', '-y', '-qq', 'docker-compose'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}
const engine = await dockerForTests();
if (engine.skip) throw new Error(`no engine: ${engine.skip}`);
process.env.DOCKER_HOST = engine.host;

// init: true, so a stop signal reaches busybox (as PID 1 it would ignore it) and `down` measures stopping, not the 10 s grace.
const httpd = (port: number, page: string): string => `mkdir -p /www && ${page} > /www/${port === 5432 ? 'health' : 'index.html'} && exec httpd -f -p ${port} -h /www`;
const loop = 'while true; do sleep 1; done';
/** The project, in stages along depends_on: each stage's services start once the stage before is up (db healthy). */
const STAGES = [
  [{ name: 'db', command: httpd(5432, 'echo ok'), scale: 1 }, { name: 'cache', command: loop, scale: 1 }],
  [{ name: 'api', command: httpd(8080, 'hostname'), scale: 8 }, { name: 'worker', command: loop, scale: 2 }],
  [{ name: 'web', command: httpd(80, 'hostname'), scale: 8 }],
];
const FILE = `services:
  db:
    image: ${engine.image}
    command: ["sh", "-c", "${STAGES[0][0].command}"]
    init: true
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1:5432/health"]
      interval: 1s
      timeout: 2s
      retries: 5
  cache:
    image: ${engine.image}
    command: ["sh", "-c", "${loop}"]
    init: true
  api:
    image: ${engine.image}
    command: ["sh", "-c", "${STAGES[1][0].command}"]
    init: true
    scale: 8
    expose: ["8080"]
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started}
  web:
    image: ${engine.image}
    command: ["sh", "-c", "${STAGES[2][0].command}"]
    init: true
    scale: 8
    ports: ["80"]
    depends_on: [api]
  worker:
    image: ${engine.image}
    command: ["sh", "-c", "${loop}"]
    init: true
    scale: 2
    depends_on:
      db: {condition: service_healthy}
`;

/**
 * The engine's own floor for this project: the same 20 containers (image, command, init, network alias) and
 * stages, created and started straight through the Engine API with nothing else: no CLI, no file to read, no
 * health wait (db's dependents start the moment db has started). No tool that keeps the stages can be quicker.
 */
async function engineFloor(): Promise<number> {
  const network = 'benchfloor_default';
  const t0 = performance.now();
  await engine.docker.createNetwork({ Name: network, Labels: { 'baton.bench': 'floor' } });
  for (const stage of STAGES) {
    const containers = await Promise.all(stage.flatMap((s) => Array.from({ length: s.scale }, (_, i) =>
      engine.docker.createContainer({
        name: `benchfloor-${s.name}-${i + 1}`,
        Image: engine.image,
        Cmd: ['sh', '-c', s.command],
        Labels: { 'baton.bench': 'floor' },
        HostConfig: { Init: true, NetworkMode: network },
        NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: [s.name] } } },
      }))));
    await Promise.all(containers.map((c) => c.start()));
  }
  const ms = performance.now() - t0;
  if (running('benchfloor') !== 20) throw new Error(`engine floor: ${running('benchfloor')} containers running, not 20`);
  await removeFloor();
  return ms;
}
async function removeFloor(): Promise<void> {
  const left = await engine.docker.listContainers({ all: true, filters: { label: ['baton.bench=floor'] } });
  await Promise.all(left.map((c) => engine.docker.getContainer(c.Id).remove({ force: true })));
  await engine.docker.getNetwork('benchfloor_default').remove().catch(() => {});
}

const b = benchHome();
const compose = (args: string[]): number => {
  const t0 = performance.now();
  const r = spawnSync('docker-compose', ['-p', 'benchcompose', ...args], { cwd: b.dir, encoding: 'utf8', env: { ...process.env, DOCKER_HOST: engine.host } });
  if (r.status !== 0) throw new Error(`docker-compose ${args.join(' ')} failed: ${r.stderr}`);
  return performance.now() - t0;
};
const running = (project: string): number =>
  spawnSync('docker', ['ps', '-q', '--filter', `status=running`, '--filter', `name=${project}`], { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: engine.host } })
    .stdout.split('\n')
    .filter(Boolean).length;

try {
  writeFileSync(join(b.dir, 'compose.yaml'), FILE);
  const load0 = loadavg()[0];
  b.baton(['ls']); // the daemon starts first: both sides measure the project, not Node's or Python's start-up alone
  const t = { batonUp: [] as number[], batonDown: [] as number[], composeUp: [] as number[], composeDown: [] as number[], floor: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    t.batonUp.push(b.baton(['-p', 'benchbaton', 'up', '-d', '--wait']).ms);
    if (running('benchbaton') !== 20) throw new Error(`baton: ${running('benchbaton')} containers running, not 20`);
    t.batonDown.push(b.baton(['-p', 'benchbaton', 'down']).ms);
    t.composeUp.push(compose(['up', '-d']));
    if (running('benchcompose') !== 20) throw new Error(`docker-compose: ${running('benchcompose')} containers running, not 20`);
    t.composeDown.push(compose(['down']));
    t.floor.push(await engineFloor());
  }
  const median = (xs: number[]): number => [...xs].sort((a, c) => a - c)[Math.floor(xs.length / 2)];
  const runs = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(', ');
  const row = (what: string, bt: number[], ct: number[], goal: string): void => {
    console.log(`${what}:`);
    console.log(`  baton          : ${median(bt).toFixed(0)} ms   (runs: ${runs(bt)})`);
    console.log(`  docker-compose : ${median(ct).toFixed(0)} ms   (runs: ${runs(ct)})`);
    console.log(`  ratio baton/docker-compose: ${(median(bt) / median(ct)).toFixed(2)}x${goal}`);
  };
  console.log(`5 services, 20 containers, db healthcheck gating api and worker; median of ${ROUNDS}; load average ${loadavg()[0].toFixed(1)} (at start: ${load0.toFixed(1)})`);
  row('up (baton up -d --wait / docker-compose up -d)', t.batonUp, t.composeUp, '   (goal: <= 0.7x)');
  console.log(`  engine floor   : ${median(t.floor).toFixed(0)} ms   (runs: ${runs(t.floor)}; the same containers and stages straight through the Engine API, no health wait)`);
  console.log(`  ratio floor/docker-compose: ${(median(t.floor) / median(t.composeUp)).toFixed(2)}x; baton above the floor: ${(median(t.batonUp) - median(t.floor)).toFixed(0)} ms`);
  row('down', t.batonDown, t.composeDown, '');
} finally {
  spawnSync('docker-compose', ['-p', 'benchcompose', 'down'], { cwd: b.dir, stdio: 'ignore', env: { ...process.env, DOCKER_HOST: engine.host } });
  await removeFloor();
  spawnSync(process.execPath, [BIN, '-p', 'benchbaton', 'down'], { cwd: b.dir, stdio: 'ignore', env: { ...process.env, BATON_HOME: b.home } });
  b.cleanup();
  await engine.release();
}

// Rolling 20 replicas with parallelism 2, delay 0 while a client keeps
// requesting: baton (docker driver) against Docker Swarm mode's
// `docker service update`, on the same engine and the same image.
//   node --import tsx bench/rolling-update.ts [ROUNDS]   (default 1)
// Needs root (or a running engine): the engine and the test image come from
// the test setup (test/helpers/docker.ts). The engine is put in swarm mode for
// the Swarm half and taken out of it at the end.
//
// The client is the same busybox loop for both, in a container: for baton it
// uses the host network and the published port (baton's mesh); Swarm's
// published ports need IPVS (its ingress mesh) or iptables, which this
// kernel or engine setup lacks, so its client sits on the service's overlay
// network and reaches the tasks by name (endpoint_mode dnsrr), which is
// Swarm's own routing without the mesh.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { benchHome } from './lib.js';
import { dockerForTests } from '../test/helpers/docker.js';
import { freePort } from '../test/helpers/baton.js';

const ROUNDS = Number(process.argv[2] ?? 1);
const REPLICAS = 20;
const engine = await dockerForTests();
if (engine.skip) throw new Error(`no engine: ${engine.skip}`);
process.env.DOCKER_HOST = engine.host;
const docker = (...args: string[]): string => execFileSync('docker', args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: engine.host }, maxBuffer: 16 << 20 }).trim();
const SERVER = (v: string): string => `mkdir -p /www && echo ${v} > /www/index.html && exec httpd -f -p 80 -h /www`;

/** A request loop in a container; `docker stop` makes it print "<ok> <failed>". (No -T: busybox 1.35 wget crashes with it on a host name.) */
function client(network: string, url: string): { stop(): { ok: number; failed: number } } {
  const loop = `ok=0; failed=0; trap 'echo $ok $failed; exit 0' TERM; while :; do if wget -q -O /dev/null ${url}; then ok=$((ok+1)); else failed=$((failed+1)); fi; done`;
  const id = docker('run', '-d', '--init', '--network', network, engine.image, 'sh', '-c', loop);
  return {
    stop() {
      docker('stop', '-t', '10', id);
      const [ok, failed] = docker('logs', id).split(/\s+/).map(Number);
      docker('rm', '-f', id);
      return { ok, failed };
    },
  };
}

const median = (xs: number[]): number => [...xs].sort((a, c) => a - c)[Math.floor(xs.length / 2)];
const results = { baton: [] as { ms: number; ok: number; failed: number }[], swarm: [] as { ms: number; ok: number; failed: number }[] };
const b = benchHome();
const port = await freePort();
const load0 = loadavg()[0];

const composeFile = (v: string): string => `name: benchroll
services:
  web:
    image: ${engine.image}
    init: true
    command: ["sh", "-c", "${SERVER(v)}"]
    ports: ["${port}:80"]
    environment: {V: "${v}"}
    deploy:
      replicas: ${REPLICAS}
      update_config: {parallelism: 2, delay: 0s, order: stop-first, monitor: 1s, failure_action: pause}
`;

try {
  // baton
  writeFileSync(join(b.dir, 'compose.yaml'), composeFile('v0'));
  b.baton(['up', '-d', '--wait']);
  for (let i = 1; i <= ROUNDS; i++) {
    const c = client('host', `http://127.0.0.1:${port}/`);
    spawnSync('sleep', ['1']);
    writeFileSync(join(b.dir, 'compose.yaml'), composeFile(`v${i}`));
    const ms = b.baton(['up', '-d', '--wait', '--wait-timeout', '600']).ms;
    const seen = c.stop();
    const rows = JSON.parse(b.baton(['ps', '--format', 'json']).stdout) as { state: string }[];
    if (rows.filter((r) => r.state === 'running').length !== REPLICAS) throw new Error('baton: not every replica runs after the update');
    results.baton.push({ ms, ...seen });
  }
  b.baton(['down']);

  // Swarm, same engine, same image, same update settings (its monitor default is 5s; 1s here as for baton).
  docker('swarm', 'init', '--advertise-addr', '127.0.0.1');
  docker('network', 'create', '-d', 'overlay', '--attachable', 'benchroll');
  docker('service', 'create', '--detach=false', '--quiet', '--name', 'benchroll', '--replicas', String(REPLICAS), '--network', 'benchroll', '--endpoint-mode', 'dnsrr',
    '--no-resolve-image', '--init', '--update-parallelism', '2', '--update-delay', '0s', '--update-order', 'stop-first', '--update-monitor', '1s', '--update-failure-action', 'pause',
    '--env', 'V=v0', engine.image, 'sh', '-c', SERVER('v0'));
  for (let i = 1; i <= ROUNDS; i++) {
    const c = client('benchroll', 'http://benchroll/');
    spawnSync('sleep', ['1']);
    const t0 = performance.now();
    docker('service', 'update', '--detach=false', '--quiet', '--env-add', `V=v${i}`, 'benchroll');
    const ms = performance.now() - t0;
    const seen = c.stop();
    results.swarm.push({ ms, ...seen });
  }
} finally {
  spawnSync('docker', ['service', 'rm', 'benchroll'], { stdio: 'ignore' });
  spawnSync('sleep', ['3']);
  spawnSync('docker', ['network', 'rm', 'benchroll'], { stdio: 'ignore' });
  spawnSync('docker', ['swarm', 'leave', '--force'], { stdio: 'ignore' });
  try {
    b.baton(['down']);
  } catch {
    /* already down */
  }
  b.cleanup();
  await engine.release();
}

const line = (name: string, rs: { ms: number; ok: number; failed: number }[]): void => {
  const failed = rs.reduce((a, r) => a + r.failed, 0);
  const ok = rs.reduce((a, r) => a + r.ok, 0);
  console.log(`  ${name.padEnd(6)}: ${median(rs.map((r) => r.ms)).toFixed(0)} ms to roll (runs: ${rs.map((r) => r.ms.toFixed(0)).join(', ')}), ${failed} of ${ok + failed} requests failed`);
};
console.log(`roll ${REPLICAS} replicas, parallelism 2, delay 0, stop-first, monitor 1s, client looping throughout; median of ${ROUNDS}; load average ${loadavg()[0].toFixed(1)} (at start ${load0.toFixed(1)})`);
line('baton', results.baton);
line('swarm', results.swarm);
console.log(`  ratio baton/swarm (time): ${(median(results.baton.map((r) => r.ms)) / median(results.swarm.map((r) => r.ms))).toFixed(2)}x   (goal: <= 1x, and 0 failed requests)`);

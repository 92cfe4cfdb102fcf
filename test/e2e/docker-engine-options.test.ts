// Compose keys the engine takes as written, checked end to end with the real
// engine: network_mode host and service:NAME, pid service:NAME, a TTY, fixed
// addresses on a network with its own subnet, and the security, DNS, CPU and
// memory knobs (seen in the container, or in what the engine says of it).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PsRow } from '../helpers/baton.js';
import { dockerForTests } from '../helpers/docker.js';
import { Sandbox, alive, freePort, httpGet, waitFor } from '../helpers/baton.js';

const engine = await dockerForTests();

describe('engine options of a Compose service', { skip: engine.skip }, () => {
  const sb = new Sandbox();
  const project = `eo${process.pid}`;
  const label = `com.baton.project=${project}`;
  // A subnet outside the test engine's address pool (10.200.0.0/14), one per test process.
  const subnet = `10.251.${process.pid % 250}`;
  let hostPort = 0;
  let discarded = 0;
  const env = (): Record<string, string> => ({ DOCKER_HOST: engine.host });
  const baton = (args: string[]): Promise<string> => sb.ok(args, { env: env() });
  const docker = (...args: string[]): string => execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: engine.host }, encoding: 'utf8' }).trim();
  const containerOf = (service: string): string => docker('ps', '-q', '--filter', `label=${label}`, '--filter', `label=com.baton.service=${service}`).split('\n')[0];
  const inspect = (service: string, format: string): string => docker('inspect', '-f', format, containerOf(service));

  before(async () => {
    hostPort = await freePort();
    discarded = await freePort();
    sb.write('compose.yaml', `name: ${project}
services:
  web:
    image: ${engine.image}
    command: ["sh", "-c", "mkdir -p /www && echo web > /www/index.html && exec httpd -f -p 80 -h /www"]
    init: true
    platform: linux/amd64
    networks:
      fixed:
        ipv4_address: ${subnet}.10
    security_opt: ["no-new-privileges:true"]
    group_add: ["1234"]
    dns_search: ["example.internal"]
    dns_opt: ["ndots:3"]
    domainname: example.com
    cpu_shares: 512
    mem_reservation: 32m
    oom_score_adj: 100
  sidecar:
    image: ${engine.image}
    command: ["sleep", "3600"]
    init: true
    network_mode: "service:web"
    pid: "service:web"
  hostnet:
    image: ${engine.image}
    command: ["sh", "-c", "mkdir -p /www && echo host > /www/index.html && exec httpd -f -p ${hostPort} -h /www"]
    init: true
    network_mode: host
    ports: ["${discarded}:${hostPort}"]
  data:
    image: ${engine.image}
    command: ["sh", "-c", "echo kept > /shared/file; trap 'echo reloaded' USR1; while true; do sleep 0.2; done"]
    init: true
    volumes: ["shared:/shared"]
  reader:
    image: ${engine.image}
    command: ["sleep", "3600"]
    init: true
    volumes_from: ["data:ro"]
    gpus: all
  hooked:
    image: ${engine.image}
    command: ["sleep", "3600"]
    init: true
    volumes: ["./out:/out"]
    post_start:
      - command: ["chmod", "777", "/out"]
      - command: ["sh", "-c", "echo $$WHO ran as $$(id -u) > /out/started"]
        environment: {WHO: post_start}
        user: "65534"
    pre_stop:
      - command: ["sh", "-c", "echo stopping > /out/stopped"]
  probed:
    image: ${engine.image}
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
    init: true
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1:80/"]
      interval: 400ms
      timeout: 300ms
      retries: 2
    restart: always
  console:
    image: ${engine.image}
    command: ["sh", "-c", "echo hello from a tty; exec sleep 3600"]
    init: true
    tty: true
    stdin_open: true
volumes:
  shared: {}
networks:
  fixed:
    ipam:
      config:
        - subnet: ${subnet}.0/24
          gateway: ${subnet}.1
`);
  });

  after(async () => {
    await sb.run(['down'], { env: env() });
    await sb.cleanup();
    await engine.release();
  });

  it('up runs them all; published ports of a host-network service are discarded with a warning, as Docker does', async () => {
    const r = await sb.run(['up', '-d', '--wait'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /WARN service "hostnet": published ports are discarded when using host network mode/);
    assert.match(r.stderr, /WARN service "reader": gpus is not applied by baton and ignored/);
  });

  it('network_mode: host listens on the host\'s own port, and nothing is published in front of it', async () => {
    assert.equal(inspect('hostnet', '{{.HostConfig.NetworkMode}}'), 'host');
    assert.equal((await httpGet(`http://127.0.0.1:${hostPort}/`)).body.trim(), 'host');
    await assert.rejects(httpGet(`http://127.0.0.1:${discarded}/`), 'the discarded published port has no listener');
  });

  it('network_mode and pid service:NAME share the other service\'s namespaces', async () => {
    assert.equal(inspect('sidecar', '{{.HostConfig.NetworkMode}}'), `container:${docker('inspect', '-f', '{{.Id}}', containerOf('web'))}`);
    assert.equal((await baton(['exec', 'sidecar', 'wget', '-qO-', 'http://127.0.0.1:80/'])).trim(), 'web', 'web\'s port on the shared loopback');
    assert.match(await baton(['exec', 'sidecar', 'ps']), /httpd -f -p 80/, 'web\'s processes in the shared pid namespace');
  });

  it('a service in another\'s namespaces is replaced with it, and joins the new one', async () => {
    const before = containerOf('sidecar');
    await baton(['restart', 'web']);
    await waitFor(async () => {
      const now = containerOf('sidecar');
      if (!now || now === before) return false;
      return (await sb.run(['exec', 'sidecar', 'wget', '-qO-', 'http://127.0.0.1:80/'], { env: env() })).stdout.trim() === 'web';
    }, 30_000, 'a new sidecar in the new web container\'s network').catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify((JSON.parse(await baton(['ps', '-a', '--format', 'json'])) as PsRow[]).filter((t) => t.service === 'web' || t.service === 'sidecar').map((t) => ({ ...t }) as PsRow & { desiredState?: string; message?: string; joins?: string[] }).map((t) => [t.service, t.id, t.state, t.desiredState, t.error, t.message, t.joins]))}`);
    });
    assert.equal(inspect('sidecar', '{{.HostConfig.NetworkMode}}'), `container:${docker('inspect', '-f', '{{.Id}}', containerOf('web'))}`);
  });

  it('volumes_from mounts another service\'s volumes, read-only when asked', async () => {
    await waitFor(async () => (await sb.run(['exec', 'reader', 'cat', '/shared/file'], { env: env() })).stdout.trim() === 'kept', 10_000, 'data\'s file seen by reader');
    const write = await sb.run(['exec', 'reader', 'sh', '-c', 'echo x > /shared/other'], { env: env() });
    assert.notEqual(write.code, 0, 'read-only');
    assert.match(write.stderr, /Read-only file system/);
  });

  it('kill -s signals the container\'s process through the engine', async () => {
    const id = containerOf('data');
    assert.match(await baton(['kill', '-s', 'USR1', 'data']), /Killed/);
    await waitFor(async () => /reloaded/.test(await baton(['logs', 'data'])), 10_000, 'the trap in the container');
    assert.equal(containerOf('data'), id, 'the same container runs on');
  });

  it('pause freezes a container, its health probes wait (not counted as failures), unpause thaws it', async () => {
    const r = await sb.run(['up', '-d', '--wait'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const before = containerOf('probed');
    assert.match(await baton(['pause', 'probed']), /Paused/);
    assert.equal(inspect('probed', '{{.State.Paused}}'), 'true');
    // Three probe intervals (retries 2): counted failures would have made it unhealthy, and replaced it, by now.
    await new Promise((r2) => setTimeout(r2, 1500));
    const [paused] = (JSON.parse(await baton(['ps', '--format', 'json'])) as (PsRow & { paused: boolean })[]).filter((x) => x.service === 'probed');
    assert.deepEqual([paused.health, paused.paused], ['healthy', true]);
    assert.equal(containerOf('probed'), before, 'still the same container');
    // kill -9 of the daemon while paused: the next one adopts the paused container (probes still waiting), not a new one.
    const old = sb.daemonPid()!;
    process.kill(old, 'SIGKILL');
    await waitFor(() => !alive(old), 5000, 'daemon to die');
    await new Promise((r2) => setTimeout(r2, 1200));
    const [adopted] = (JSON.parse(await baton(['ps', '--format', 'json'])) as (PsRow & { paused: boolean })[]).filter((x) => x.service === 'probed');
    await new Promise((r2) => setTimeout(r2, 1500));
    assert.equal(containerOf('probed'), before, 'the paused container was adopted');
    assert.equal(adopted.health, 'healthy');
    assert.match(await baton(['unpause', 'probed']), /Unpaused/);
    assert.equal(inspect('probed', '{{.State.Paused}}'), 'false');
    const [t] = (JSON.parse(await baton(['ps', '--format', 'json'])) as PsRow[]).filter((x) => x.service === 'probed');
    assert.equal(t.state, 'running');
  });

  it('a fixed address on a network with its own subnet', async () => {
    assert.equal(docker('network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', `${project}_fixed`), `${subnet}.0/24`);
    assert.match(await baton(['exec', 'web', 'ip', 'addr']), new RegExp(`inet ${subnet.replaceAll('.', '\\.')}\\.10/24`));
  });

  it('security, groups, DNS search and options, domain name, CPU and memory knobs reach the container', async () => {
    assert.equal(inspect('web', '{{json .HostConfig.SecurityOpt}}'), '["no-new-privileges:true"]');
    assert.match(await baton(['exec', 'web', 'id']), /groups=.*\b1234\b/);
    const resolv = await baton(['exec', 'web', 'cat', '/etc/resolv.conf']);
    assert.match(resolv, /search example\.internal/);
    assert.match(resolv, /options ndots:3/);
    assert.equal(inspect('web', '{{.Config.Domainname}}'), 'example.com');
    assert.equal(inspect('web', '{{.HostConfig.CpuShares}} {{.HostConfig.MemoryReservation}} {{.HostConfig.OomScoreAdj}}'), `512 ${32 * 1024 * 1024} 100`);
  });

  it('tty: true gives the container a TTY, and logs still read its output', async () => {
    assert.equal(inspect('console', '{{.Config.Tty}} {{.Config.OpenStdin}}'), 'true true');
    assert.match(await baton(['exec', '-T', 'console', 'readlink', '/proc/1/fd/1']), /^\/dev\/(pts\/\d+|console)/, 'the container\'s first process writes to a terminal');
    await waitFor(async () => /hello from a tty/.test(await baton(['logs', 'console'])), 10_000, 'the TTY output in logs');
    assert.doesNotMatch(await baton(['logs', 'console']), /\r/, 'no carriage return left at line ends');
  });

  it('post_start runs in the container once it started, pre_stop before it stops; a failing post_start fails the task', async () => {
    await waitFor(() => existsSync(join(sb.dir, 'out/started')), 10_000, 'the post_start hook');
    assert.equal(readFileSync(join(sb.dir, 'out/started'), 'utf8').trim(), 'post_start ran as 65534', 'in order, with its environment and user (the folder made as Compose makes a missing bind source)');
    assert.equal(existsSync(join(sb.dir, 'out/stopped')), false);
    await baton(['stop', 'hooked']);
    assert.equal(readFileSync(join(sb.dir, 'out/stopped'), 'utf8').trim(), 'stopping', 'pre_stop ran before the stop');
    sb.write('compose.yaml', readFileSync(join(sb.dir, 'compose.yaml'), 'utf8').replace('services:\n', `services:\n  badhook:\n    image: ${engine.image}\n    command: ["sleep", "3600"]\n    init: true\n    restart: "no"\n    post_start:\n      - command: ["sh", "-c", "echo cannot; exit 3"]\n`));
    await baton(['up', '-d', 'badhook']);
    await waitFor(async () => (JSON.parse(await baton(['ps', '-a', '--format', 'json'])) as PsRow[]).some((t) => t.service === 'badhook' && t.state === 'failed' && /post_start\[0\] exited with code 3: cannot/.test(t.error ?? '')), 20_000, 'badhook failed by its hook');
  });

  it('bad values and excluded combinations are refused at load or deploy, naming file, line and key; nothing is deployed', async () => {
    const sb = new Sandbox();
    const cases: [string, RegExp][] = [
      ['    network_mode: sideways\n', /compose\.yaml:\d+:\d+: services\.app\.network_mode: expected host, none, bridge, service:NAME or container:NAME, got "sideways"/],
      ['    network_mode: host\n    networks: [default]\n', /compose\.yaml:\d+:\d+: .*services\.app\.network_mode.*network_mode and networks exclude each other/],
      ['    network_mode: "container:other"\n    ports: ["8080:80"]\n', /compose\.yaml:\d+:\d+: .*services\.app\.ports.*ports cannot be published with network_mode: container:other/],
      ['    oom_score_adj: 5000\n', /compose\.yaml:\d+:\d+: services\.app\.oom_score_adj: must be <= 1000/],
      ['    platform: linux/arm64\n', /compose\.yaml:\d+:\d+: services\.app\.platform: image "baton-test\/busybox:1" here is for linux\/amd64, not linux\/arm64/],
      ['    cpu_shares: -5\n', /compose\.yaml:\d+:\d+: services\.app\.cpu_shares: expected a whole number from 0, got -5/],
      ['    mem_reservation: lots\n', /compose\.yaml:\d+:\d+: services\.app\.mem_reservation: expected a size/],
    ];
    for (const [extra, message] of cases) {
      sb.write('compose.yaml', `name: eobad${process.pid}\nservices:\n  app:\n    image: ${engine.image}\n    command: ["true"]\n${extra}`);
      const r = await sb.run(['up', '-d'], { env: env() });
      assert.notEqual(r.code, 0, extra);
      assert.match(r.stderr, message, extra);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    }
    assert.equal((await sb.run(['ps', '-q'], { env: env() })).stdout.trim(), '', 'nothing was deployed');
    await sb.cleanup();
  });
});

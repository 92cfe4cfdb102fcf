// The docker driver against a real engine: containers, exits, logs, exec,
// networks with aliases, volumes, adoption after a restart, and never touching
// what is not its own.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import { DockerDriver } from '../../src/drivers/docker/driver.js';
import type { ContainerSpec, ExitInfo, LogLine, RunSpec } from '../../src/drivers/driver.js';
import { LABEL, TaskStartError } from '../../src/drivers/driver.js';
import { dockerForTests } from '../helpers/docker.js';
import { engineOptions } from '../../src/agent/engine-options.js';
import { freePort, httpGet, waitFor } from '../helpers/baton.js';

const engine = await dockerForTests();
const project = `drv${process.pid}`;
const instance = `test-${process.pid}`;

function spec(id: string, c: Partial<ContainerSpec> & { command?: string[] }, slot = 1, service = 'svc'): RunSpec {
  return {
    task: { id, project, service, slot },
    argv: [],
    env: {},
    workingDir: '/',
    stopSignal: 'SIGTERM',
    stopGraceMs: 2000,
    container: {
      image: engine.image,
      pullPolicy: 'missing',
      env: {},
      labels: { [LABEL.project]: project, [LABEL.service]: service, [LABEL.slot]: String(slot), [LABEL.task]: id },
      ports: [],
      mounts: [],
      volumes: [],
      networks: [{ name: `${project}_default`, aliases: [], external: false, internal: false, labels: { [LABEL.project]: project } }],
      serviceAlias: service,
      capAdd: [],
      capDrop: [],
      ulimits: [],
      sysctls: {},
      extraHosts: [],
      dns: [],
      tmpfs: [],
      devices: [],
      engine: engineOptions(service, {}),
      ...c,
    },
  };
}

describe('docker driver', { skip: engine.skip }, () => {
  const driver = new DockerDriver({ instance, host: engine.host });
  const exits = new Map<string, ExitInfo>();
  driver.on({ exited: (id, info) => exits.set(id, info) });
  const byTask = async (id: string): Promise<Docker.ContainerInfo[]> =>
    engine.docker.listContainers({ all: true, filters: { label: [`${LABEL.task}=${id}`] } });

  before(async () => {
    assert.equal(await driver.available(), true);
  });

  after(async () => {
    for (const c of await engine.docker.listContainers({ all: true, filters: { label: [`${LABEL.project}=${project}`] } })) {
      await engine.docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    }
    await driver.removeProject(project, { volumes: true }).catch(() => {});
    await driver.close();
    await engine.release();
  });

  it('is unavailable when no engine answers', async () => {
    assert.equal(await new DockerDriver({ instance, host: 'unix:///nonexistent/docker.sock' }).available(), false);
  });

  it("reports the engine's own labels (engine.labels.* constraints), as the engine states them", async () => {
    const info = (await engine.docker.info()) as { Labels?: string[] };
    const want = Object.fromEntries((info.Labels ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    assert.deepEqual(await driver.engineLabels(), want);
  });

  it('runs a container, reports its exit code and keeps stdout and stderr apart in its logs', async () => {
    await driver.start(spec('t-exit', { command: ['sh', '-c', 'echo "out $GREETING"; echo err >&2; exit 3'], env: { GREETING: 'hello' } }));
    await waitFor(() => exits.has('t-exit'), 20_000, 'exit');
    assert.equal(exits.get('t-exit')!.exitCode, 3);
    const lines: LogLine[] = [];
    await driver.logs('t-exit', {}, (l) => lines.push(l));
    assert.deepEqual(lines.map((l) => [l.stream, l.line]).sort(), [['stderr', 'err'], ['stdout', 'out hello']]);
    assert.ok(!Number.isNaN(Date.parse(lines[0].time)));
    const [c] = await byTask('t-exit');
    assert.equal(c.Labels[LABEL.instance], instance);
    const info = await engine.docker.getContainer(c.Id).inspect();
    assert.equal(info.HostConfig.RestartPolicy?.Name, 'no', "restarts are baton's, not the engine's");
  });

  it('gives the engine the Compose container options', async () => {
    await driver.start(spec('t-opts', {
      command: ['sleep', '600'],
      hostname: 'opts-host',
      workingDir: '/tmp',
      env: { A: 'b' },
      init: true,
      readOnly: true,
      capDrop: ['NET_RAW'],
      capAdd: ['SYS_PTRACE'],
      ulimits: [{ name: 'nofile', soft: 512, hard: 1024 }],
      extraHosts: ['db.example:10.1.2.3'],
      dns: ['10.0.0.53'],
      tmpfs: ['/scratch:size=1m'],
      mounts: [{ type: 'tmpfs', target: '/t2', readOnly: false, tmpfsSize: 2 * 1024 * 1024 }],
      shmSizeBytes: 8 * 1024 * 1024,
      nanoCpus: 5e8,
      memoryBytes: 64 * 1024 * 1024,
      pidsLimit: 50,
      labels: { ...spec('t-opts', {}).container!.labels, team: 'blue' },
    }));
    const [c] = await byTask('t-opts');
    const info = await engine.docker.getContainer(c.Id).inspect();
    assert.equal(info.Config.Hostname, 'opts-host');
    assert.equal(info.Config.WorkingDir, '/tmp');
    assert.ok(info.Config.Env.includes('A=b'));
    assert.equal(info.Config.Labels.team, 'blue');
    const h = info.HostConfig as typeof info.HostConfig & { Init?: boolean; PidsLimit?: number; NanoCpus?: number; ReadonlyRootfs?: boolean };
    assert.equal(h.Init, true);
    assert.equal(h.ReadonlyRootfs, true);
    assert.deepEqual(h.CapDrop, ['NET_RAW']);
    assert.deepEqual(h.CapAdd, ['SYS_PTRACE']);
    assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Soft: 512, Hard: 1024 }]);
    assert.deepEqual(h.ExtraHosts, ['db.example:10.1.2.3']);
    assert.deepEqual(h.Dns, ['10.0.0.53']);
    assert.equal(h.ShmSize, 8 * 1024 * 1024);
    assert.equal(h.NanoCpus, 5e8);
    assert.equal(h.Memory, 64 * 1024 * 1024);
    assert.equal(h.PidsLimit, 50);
    // And inside: read-only root, writable tmpfs, the extra host.
    assert.notEqual((await driver.exec('t-opts', { shell: 'touch /x' }, 10_000)).exitCode, 0);
    assert.equal((await driver.exec('t-opts', { shell: 'touch /scratch/x && touch /t2/x' }, 10_000)).exitCode, 0);
    assert.match((await driver.exec('t-opts', { argv: ['cat', '/etc/hosts'] }, 10_000)).output, /10\.1\.2\.3\s+db\.example/);
    await driver.stop('t-opts', { signal: 'SIGTERM', graceMs: 5_000 });
  });

  it('rejects an image that is not there, naming it', async () => {
    await assert.rejects(driver.start(spec('t-noimg', { image: 'baton-test/nope:404' })), (err: Error) => err instanceof TaskStartError && /baton-test\/nope:404/.test(err.message));
  });

  it('execs in the container (exit code, output, timeout), follows logs, and stops it with its signal', async () => {
    await driver.start(spec('t-run', { command: ['sh', '-c', 'trap "echo bye; exit 0" TERM; echo ready; while true; do sleep 0.2; done'] }));
    assert.deepEqual(await driver.exec('t-run', { shell: 'echo probe; exit 4' }, 10_000), { exitCode: 4, output: 'probe\n' });
    assert.equal((await driver.exec('t-run', { argv: ['true'] }, 10_000)).exitCode, 0);
    assert.equal((await driver.exec('t-run', { argv: ['sleep', '5'] }, 300)).exitCode, null, 'timed out');
    const ac = new AbortController();
    const seen: string[] = [];
    const following = driver.logs('t-run', { follow: true, signal: ac.signal }, (l) => seen.push(l.line));
    await waitFor(() => seen.includes('ready'), 10_000, 'log line');
    await driver.stop('t-run', { signal: 'SIGTERM', graceMs: 10_000 });
    assert.equal(exits.get('t-run')?.exitCode, 0, 'the trap ran: it got SIGTERM');
    await waitFor(() => seen.includes('bye'), 5_000, 'last log line');
    ac.abort();
    await following;
    assert.equal((await byTask('t-run')).length, 0, 'a container baton stopped is removed');
  });

  it('joins the project network under its service name and aliases, and mounts named volumes it creates once', async () => {
    const vol = { name: `${project}_data`, external: false, labels: { [LABEL.project]: project, [LABEL.volume]: 'data' } };
    const netWith = (aliases: string[]) => [{ name: `${project}_default`, aliases, external: false, internal: false, labels: { [LABEL.project]: project } }];
    const run = await driver.start(spec('t-srv', {
      command: ['sh', '-c', 'echo kept > /data/f; exec httpd -f -p 80 -h /data'],
      networks: netWith(['api']),
      volumes: [vol],
      mounts: [{ type: 'volume', source: vol.name, target: '/data', readOnly: false }],
      ports: [{ target: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: await freePort() }],
    }, 1, 'server'));
    // This host has a bridge on the network: the mesh is given the container's own address, nothing is published.
    assert.equal(run.ports?.length, 1);
    assert.notEqual(run.ports![0].hostIp, '127.0.0.1');
    assert.equal(run.ports![0].hostPort, 80);
    await waitFor(async () => (await httpGet(`http://${run.ports![0].hostIp}/f`).catch(() => ({ body: '' }))).body === 'kept\n', 10_000, 'the container answering on its address');
    const [srv] = await byTask('t-srv');
    assert.deepEqual(srv.Ports.filter((p) => p.PublicPort), [], 'no port published by the engine');
    await driver.start(spec('t-cli', { command: ['sleep', '600'] }, 1, 'client'));
    for (const name of ['server', 'api']) {
      // The engine's DNS may answer a just-started container late on a loaded machine: a few tries, each bounded.
      let r = { exitCode: null as number | null, output: '' };
      const deadline = Date.now() + 30_000;
      do r = await driver.exec('t-cli', { shell: `wget -qO- http://${name}/f` }, 5_000);
      while (r.exitCode !== 0 && Date.now() < deadline);
      assert.deepEqual(r, { exitCode: 0, output: 'kept\n' }, `${name} resolves`);
    }
    const v = await engine.docker.getVolume(vol.name).inspect();
    assert.equal(v.Labels?.[LABEL.instance], instance);
    const n = await engine.docker.getNetwork(`${project}_default`).inspect();
    assert.equal((n.Labels as Record<string, string>)[LABEL.project], project);
  });

  it('after a restart adopts the containers the store knows and removes only its own others', async () => {
    const foreign = await engine.docker.createContainer({ Image: engine.image, Cmd: ['sleep', '600'], Labels: { [LABEL.project]: project } });
    const otherInstance = await engine.docker.createContainer({ Image: engine.image, Cmd: ['sleep', '600'], Labels: { [LABEL.project]: project, [LABEL.instance]: 'someone-else', [LABEL.task]: 'x' } });
    await driver.close(); // the old daemon goes; its containers live on
    const next = new DockerDriver({ instance, host: engine.host });
    const nextExits = new Map<string, ExitInfo>();
    next.on({ exited: (id, info) => nextExits.set(id, info) });
    const adopted = await next.recover([{ taskId: 't-srv' }, { taskId: 't-gone' }]);
    assert.deepEqual(adopted.map((a) => a.taskId), ['t-srv']);
    assert.equal((await byTask('t-srv')).length, 1);
    assert.equal((await byTask('t-cli')).length, 0, 'not known to the store: removed');
    assert.equal((await byTask('t-exit')).length, 0, 'exited and unknown: removed');
    await engine.docker.getContainer(foreign.id).inspect(); // throws when removed
    await engine.docker.getContainer(otherInstance.id).inspect();
    // An adopted container's exit is seen.
    await engine.docker.getContainer((await byTask('t-srv'))[0].Id).kill();
    await waitFor(() => nextExits.has('t-srv'), 10_000, 'exit of the adopted container');
    assert.equal(nextExits.get('t-srv')!.exitCode, 137);
    await engine.docker.getContainer(foreign.id).remove({ force: true });
    await engine.docker.getContainer(otherInstance.id).remove({ force: true });
    // The project's network goes with removeProject; its volume only with volumes.
    await next.removeProject(project, { volumes: false });
    await assert.rejects(engine.docker.getNetwork(`${project}_default`).inspect());
    await engine.docker.getVolume(`${project}_data`).inspect();
    await next.removeProject(project, { volumes: true });
    await assert.rejects(engine.docker.getVolume(`${project}_data`).inspect());
    await next.close();
  });
});

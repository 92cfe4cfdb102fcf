// A Docker engine for tests: Debian's docker.io (installed when missing, as
// root), a private dockerd (vfs storage, no iptables) when none answers, and a
// small image made from busybox-static, since no registry is reachable.
// Test files run in parallel processes: they share one private dockerd, started
// by the first under a lock and stopped by the last to leave.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync, copyFileSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { alive } from '../../src/drivers/process/procfs.js';

export const TEST_IMAGE = 'baton-test/busybox:1';

export interface TestEngine {
  /** Why the docker tests cannot run here (only off CI); undefined when they can. */
  skip?: string;
  /** unix:///path of the engine, for DOCKER_HOST. */
  host: string;
  docker: Docker;
  image: string;
  /** Leaves the shared engine; the last user stops a private one. */
  release(): Promise<void>;
}

const isRoot = process.getuid?.() === 0;
const onCi = process.env.CI === 'true' || process.env.CI === '1';
const PRIVATE = join(tmpdir(), `baton-test-dockerd-${process.getuid?.() ?? 0}`);
const SOCKET = join(PRIVATE, 'docker.sock');

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

async function answers(socketPath: string): Promise<boolean> {
  if (!existsSync(socketPath)) return false;
  try {
    await Promise.race([new Docker({ socketPath }).ping(), new Promise((_r, rej) => setTimeout(() => rej(new Error('timeout')), 2000))]);
    return true;
  } catch {
    return false;
  }
}

function installPackages(): void {
  const missing = [!have('dockerd') && 'docker.io', !existsSync('/bin/busybox') && 'busybox-static'].filter(Boolean) as string[];
  if (missing.length === 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'update', '-qq'], { stdio: 'ignore', env });
  execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '-qq', ...missing], { stdio: 'ignore', env, timeout: 600_000 });
}

/** mkdir is atomic: whoever makes the folder holds the lock. A holder that died leaves it stale. */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(PRIVATE, { recursive: true });
  const lock = join(PRIVATE, 'lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let holder = 0;
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        /* being written */
      }
      if (holder && !alive(holder)) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`could not lock ${lock}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function users(): number[] {
  const dir = join(PRIVATE, 'users');
  mkdirSync(dir, { recursive: true });
  return readdirSync(dir).map(Number).filter((pid) => {
    if (alive(pid)) return true;
    rmSync(join(dir, String(pid)), { force: true });
    return false;
  });
}

async function startPrivateDockerd(): Promise<void> {
  const pidfile = join(PRIVATE, 'dockerd.pid');
  const out = openSync(join(PRIVATE, 'dockerd.log'), 'a');
  const child = spawn(
    'dockerd',
    [
      '--storage-driver=vfs',
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      // A pool of its own, far larger than the defaults (31 networks): test files run side by side, each with networks.
      '--default-address-pool=base=10.200.0.0/14,size=24',
      `--data-root=${join(PRIVATE, 'data')}`,
      `--exec-root=${join(PRIVATE, 'exec')}`,
      `-H`,
      `unix://${SOCKET}`,
      `--pidfile=${pidfile}`,
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  child.unref();
  const deadline = Date.now() + 60_000;
  while (!(await answers(SOCKET))) {
    if (Date.now() > deadline) throw new Error(`dockerd did not answer on ${SOCKET} within 60s; see ${join(PRIVATE, 'dockerd.log')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopPrivateDockerd(): Promise<void> {
  const pidfile = join(PRIVATE, 'dockerd.pid');
  if (!existsSync(pidfile)) return;
  const pid = Number(readFileSync(pidfile, 'utf8'));
  if (pid && alive(pid)) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  // A network namespace the engine left mounted (swarm mode's, say) would make the folder busy.
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m?.startsWith(PRIVATE + '/'));
  for (const m of mounts.reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  for (const name of ['data', 'exec', 'dockerd.pid', 'docker.sock']) rmSync(join(PRIVATE, name), { recursive: true, force: true });
}

/** A root folder with busybox and its applets on PATH, imported as the test image. */
function importImage(host: string): void {
  const root = join(PRIVATE, `rootfs-${process.pid}`);
  rmSync(root, { recursive: true, force: true });
  for (const d of ['bin', 'tmp', 'etc', 'data']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(root, 'bin', a));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  execFileSync('sh', ['-c', `tar -C "${root}" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' - ${TEST_IMAGE}`], {
    env: { ...process.env, DOCKER_HOST: host },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  rmSync(root, { recursive: true, force: true });
}

/** Call at the top of a test file (top-level await); pass `skip` to describe and `release` to after(). */
export async function dockerForTests(): Promise<TestEngine> {
  const none = async (): Promise<void> => {};
  const skipped = (why: string): TestEngine => {
    if (onCi) throw new Error(`docker tests cannot run: ${why} (CI=true: nothing may be skipped)`);
    return { skip: why, host: '', docker: new Docker({ socketPath: SOCKET }), image: TEST_IMAGE, release: none };
  };
  if (!have('dockerd') || !have('docker') || !existsSync('/bin/busybox')) {
    if (!isRoot) return skipped('needs Debian packages docker.io and busybox-static (apt-get install docker.io busybox-static), or run the tests as root to have them installed');
    installPackages();
  }
  // An engine that already answers is used as it is, and left running.
  const given = process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice(7) : '/var/run/docker.sock';
  let socketPath = given;
  let release = none;
  if (!(await answers(given))) {
    if (!isRoot) return skipped('no Docker engine answers and starting dockerd needs root');
    socketPath = SOCKET;
    await withLock(async () => {
      users(); // makes the folder and forgets users that died without leaving
      writeFileSync(join(PRIVATE, 'users', String(process.pid)), '');
      if (!(await answers(SOCKET))) await startPrivateDockerd();
    });
    release = () =>
      withLock(async () => {
        try {
          unlinkSync(join(PRIVATE, 'users', String(process.pid)));
        } catch {
          /* already gone */
        }
        if (users().length === 0) await stopPrivateDockerd();
      });
  }
  const host = `unix://${socketPath}`;
  const docker = new Docker({ socketPath });
  if (!(await docker.getImage(TEST_IMAGE).inspect().then(() => true, () => false))) {
    await withLock(async () => {
      if (!(await docker.getImage(TEST_IMAGE).inspect().then(() => true, () => false))) importImage(host);
    });
  }
  return { host, docker, image: TEST_IMAGE, release };
}

export interface ExtraEngine {
  host: string;
  docker: Docker;
  stop(): Promise<void>;
}

/**
 * A second engine of its own beside the shared one, as another machine's
 * would be (separate images, containers and networks; addresses from another
 * pool so the two engines' networks never overlap), with the test image
 * imported. Root only; stopped and removed by stop().
 */
export async function extraEngine(name: string, pool: string): Promise<ExtraEngine> {
  if (!isRoot) throw new Error('a second engine needs root');
  const dir = join(tmpdir(), `baton-test-dockerd-${name}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'docker.sock');
  const out = openSync(join(dir, 'dockerd.log'), 'a');
  const child = spawn(
    'dockerd',
    ['--storage-driver=vfs', '--iptables=false', '--ip6tables=false', '--bridge=none', `--default-address-pool=base=${pool},size=24`, `--data-root=${join(dir, 'data')}`, `--exec-root=${join(dir, 'exec')}`, '-H', `unix://${socket}`, `--pidfile=${join(dir, 'dockerd.pid')}`],
    { stdio: ['ignore', out, out] },
  );
  const deadline = Date.now() + 60_000;
  while (!(await answers(socket))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the second dockerd did not answer on ${socket}; see ${join(dir, 'dockerd.log')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const host = `unix://${socket}`;
  importImage(host);
  return {
    host,
    docker: new Docker({ socketPath: socket }),
    stop: async () => {
      child.kill('SIGTERM');
      const end = Date.now() + 30_000;
      while (child.exitCode === null && child.signalCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m?.startsWith(dir + '/'));
      for (const m of mounts.reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

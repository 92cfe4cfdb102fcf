// The process driver's mount namespace per task: files at their Compose paths
// (/run/secrets/<name>, a config's target, /etc/hosts), the pid still the
// program's, signals and probes reaching it, nothing left on the host.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProcessDriver, TaskStartError, type Driver, type ExitInfo, type LogLine, type RunSpec } from '../../src/drivers/index.js';
import { alive, pidStartTime } from '../../src/drivers/process/procfs.js';
import { hostPath, MountPlanError, planMounts, type BindMount, type MountOp } from '../../src/drivers/process/namespace.js';

// CI runs as root: there this must run, never skip.
const canNamespace = process.platform === 'linux' && process.getuid?.() === 0;
const skip = !canNamespace && !process.env.CI ? 'mount namespaces need root on Linux' : false;

const home = mkdtempSync(join(tmpdir(), 'baton-ns-'));
after(() => rmSync(home, { recursive: true, force: true }));
const tag = `baton-test-${process.pid}`;
let seq = 0;

function setup(opts: { namespaces?: boolean; instance?: string } = {}): { d: Driver; exited: (id: string) => Promise<ExitInfo> } {
  const d = createProcessDriver({ home, instance: opts.instance ?? `ns-${process.pid}`, namespaces: opts.namespaces });
  const exits = new Map<string, ExitInfo>();
  const waiters = new Map<string, (e: ExitInfo) => void>();
  d.on({ exited: (id, info) => {
    exits.set(id, info);
    waiters.get(id)?.(info);
  } });
  return { d, exited: (id) => (exits.has(id) ? Promise.resolve(exits.get(id)!) : new Promise((r) => waiters.set(id, r))) };
}

/** A task folder as the agent writes it, with files at the given targets. */
function files(entries: { kind: 'secret' | 'config'; target: string; content: string; mode?: number; uid?: number; gid?: number }[]): NonNullable<RunSpec['files']> {
  const dir = join(home, `files-${seq++}`);
  mkdirSync(dir, { mode: 0o700 });
  return {
    dir,
    entries: entries.map((e, i) => {
      const hostPath = join(dir, `f${i}`);
      writeFileSync(hostPath, e.content, { mode: e.mode ?? (e.kind === 'secret' ? 0o400 : 0o444) });
      if (e.uid !== undefined) chownSync(hostPath, e.uid, e.gid ?? 0);
      return { kind: e.kind, hostPath, target: e.target, ...(e.uid !== undefined ? { uid: e.uid, gid: e.gid } : {}) };
    }),
  };
}

const spec = (argv: string[], extra: Partial<RunSpec> = {}): RunSpec => ({
  task: { id: `n${process.pid}x${seq++}`, project: 'p', service: 's', slot: 1 },
  argv,
  env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  workingDir: '/tmp',
  stopSignal: 'SIGTERM',
  stopGraceMs: 2000,
  ...extra,
});

async function output(d: Driver, id: string): Promise<string[]> {
  const out: string[] = [];
  await d.logs(id, {}, (l: LogLine) => out.push(l.line));
  return out;
}

/** Mountpoints the host (this test's namespace) has where a task's could leak: its targets, /run/secrets, this home. */
function hostMounts(): string[] {
  const ours = (m: string): boolean => m.includes(tag) || m.startsWith('/run/secrets') || m.startsWith(home) || m === '/etc/hosts' || m === '/etc';
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[4]).filter(ours);
}

/** The task's mount namespace, once nsenter has entered it (start() returns as soon as nsenter runs). */
async function nsOf(pid: number): Promise<string> {
  const host = readlinkSync('/proc/self/ns/mnt');
  for (let i = 0; i < 200; i++) {
    const ns = readlinkSync(`/proc/${pid}/ns/mnt`);
    if (ns !== host) return ns;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`pid ${pid} never entered a namespace of its own`);
}

/**
 * What keeps a task's namespace: the task's processes in it, and whether this
 * process (the driver) holds it open. With neither, the kernel ends it. (Its
 * inode number is reused then, so other processes may show the same one.)
 */
function nsUsers(ns: string, taskId: string): { pids: number[]; heldHere: boolean } {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/mnt`) === ns && readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(`BATON_TASK_ID=${taskId}`)) pids.push(Number(name));
    } catch {
      /* gone */
    }
  }
  const heldHere = readdirSync('/proc/self/fd').some((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === ns;
    } catch {
      return false;
    }
  });
  return { pids, heldHere };
}

const holders = (): number[] => readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
  try {
    return readFileSync(`/proc/${n}/cmdline`, 'utf8').includes('baton-ns');
  } catch {
    return false;
  }
}).map(Number);

describe('mount plan', () => {
  const root = mkdtempSync(join(tmpdir(), 'baton-plan-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc/hosts'), '');
  mkdirSync(join(root, 'run/app'), { recursive: true });
  writeFileSync(join(root, 'run/pid'), '');

  it('binds over what exists; builds a private copy of the nearest folder for what does not, deepest first', () => {
    const ops = planMounts([
      { source: '/s/hosts', target: join(root, 'etc/hosts') },
      { source: '/s/a', target: join(root, 'run/secrets/a') },
      { source: '/s/b', target: join(root, 'run/app/conf/b.yml') },
    ], { work: '/w' });
    const binds = (part: MountOp[], strict: boolean): BindMount[] => part.flatMap((o) => (o.op === 'binds' && o.strict === strict ? o.mounts : []));
    assert.deepEqual(ops.slice(0, 3).map((o) => o.op), ['tmpfs', 'binds', 'umount']);
    assert.deepEqual(binds(ops.slice(0, 3), true), [{ from: '/s/hosts', to: join(root, 'etc/hosts'), options: 'bind,ro,nosuid,nodev' }], 'an existing file is simply covered');
    const moves = ops.flatMap((o) => (o.op === 'move' ? [o.to] : []));
    assert.deepEqual(moves, [join(root, 'run/app'), join(root, 'run')], 'the deeper folder is built first, so the outer copy takes it in');
    // The copy of run/ brings back every entry of the original (leniently), then adds the new folder and file (strictly).
    const firstMove = ops.findIndex((o) => o.op === 'move');
    const runPart = ops.slice(firstMove + 1);
    assert.deepEqual(binds(runPart, false).sort((a, b) => a.to.localeCompare(b.to)), [
      { from: join(root, 'run/app'), to: '/w/app', options: 'rbind' },
      { from: join(root, 'run/pid'), to: '/w/pid', options: 'rbind' },
    ]);
    assert.ok(runPart.some((o) => o.op === 'file' && o.path === '/w/pid'), 'a file entry gets a file to mount on');
    assert.ok(runPart.some((o) => o.op === 'mkdir' && o.dirs.includes('/w/secrets') && o.dirs.includes('/w/app')));
    assert.deepEqual(binds(runPart, true), [{ from: '/s/a', to: '/w/secrets/a', options: 'bind,ro,nosuid,nodev' }]);
    const appPart = ops.slice(3, firstMove + 1);
    assert.ok(appPart.some((o) => o.op === 'mkdir' && o.dirs.includes('/w/conf')));
    assert.deepEqual(binds(appPart, true), [{ from: '/s/b', to: '/w/conf/b.yml', options: 'bind,ro,nosuid,nodev' }]);
  });

  it('an "empty" folder hides what the host has there', () => {
    mkdirSync(join(root, 'run/secrets-host'));
    writeFileSync(join(root, 'run/secrets-host/other'), 'not for tasks');
    const ops = planMounts([{ source: '/s/a', target: join(root, 'run/secrets-host/a') }], { work: '/w', empty: [join(root, 'run/secrets-host')] });
    assert.ok(!ops.some((o) => o.op === 'binds' && !o.strict), 'nothing of the host folder is brought back');
    assert.deepEqual(ops.at(-1), { op: 'move', from: '/w', to: join(root, 'run/secrets-host') });
  });

  it('follows symlinks of the host and refuses what cannot be a file', () => {
    const link = join(root, 'var-run');
    rmSync(link, { force: true });
    symlinkSync(join(root, 'run'), link);
    assert.equal(hostPath(join(link, 'x/y')), join(realpathSync(root), 'run/x/y'));
    assert.throws(() => planMounts([{ source: '/s', target: join(root, 'etc') }], { work: '/w' }), MountPlanError);
    assert.throws(() => planMounts([{ source: '/s', target: join(root, 'etc/hosts/x') }], { work: '/w' }), /not a directory/);
    assert.throws(() => planMounts([{ source: '/s', target: 'relative' }], { work: '/w' }), /not an absolute path/);
    assert.throws(() => planMounts([{ source: '/s', target: '/a/x' }, { source: '/t', target: '/a/./x' }], { work: '/w' }), /two files/);
  });
});

describe('process driver: a mount namespace per task with files', { skip }, () => {
  it('is used as root on Linux', () => {
    assert.equal(setup().d.filesAtTargets, true, 'root on Linux with util-linux: tasks see their files at their targets');
  });

  it('puts secrets at /run/secrets and configs at their targets, with their owner and mode; the host sees none of it', async () => {
    const { d, exited } = setup();
    assert.deepEqual(hostMounts(), []);
    const hadRunSecrets = existsSync('/run/secrets');
    const confDir = `/etc/${tag}`;
    const f = files([
      { kind: 'secret', target: '/run/secrets/db_password', content: 'pw-1' },
      { kind: 'secret', target: '/run/secrets/keys/token', content: 'tok', mode: 0o440, uid: 4242, gid: 4343 },
      { kind: 'config', target: `${confDir}/app.conf`, content: 'mode=production' },
      { kind: 'config', target: `${confDir}/odd name#1\\.conf`, content: 'odd' },
      { kind: 'config', target: `/${tag}`, content: 'plain' },
      { kind: 'config', target: '/etc/hosts', content: '10.1.2.3 db\n' },
    ]);
    const s = spec(['sh', '-c', [
      'cat /run/secrets/db_password; echo',
      'stat -c "%a %u %g" /run/secrets/db_password /run/secrets/keys/token',
      `cat ${confDir}/app.conf; echo`,
      `cat "${confDir}/odd name#1\\.conf"; echo`,
      `cat /${tag}; echo`,
      'grep db /etc/hosts',
      'test -d /usr/bin && echo host-folders-seen',
      '(echo x > /run/secrets/db_password) 2>/dev/null || echo read-only',
    ].join('; ')], { files: f });
    await d.start(s);
    assert.equal((await exited(s.task.id)).exitCode, 0);
    assert.deepEqual(await output(d, s.task.id), [
      'pw-1', '400 0 0', '440 4242 4343', 'mode=production', 'odd', 'plain', '10.1.2.3 db', 'host-folders-seen', 'read-only',
    ]);
    assert.equal(existsSync(confDir), false, 'no folder made on the host');
    assert.equal(existsSync(`/${tag}`), false, 'no mountpoint made on the host');
    assert.equal(existsSync('/run/secrets'), hadRunSecrets);
    assert.deepEqual(hostMounts(), [], 'no mount reached the host');
    assert.equal(readFileSync('/etc/hosts', 'utf8').includes('10.1.2.3'), false);
  });

  it('the pid is the program\'s, the stop signal reaches it, and the namespace ends with it', async () => {
    const { d, exited } = setup();
    const s = spec(['sh', '-c', 'trap "echo got TERM; exit 7" TERM; echo up; while :; do sleep 0.05; done'], {
      files: files([{ kind: 'secret', target: '/run/secrets/x', content: 'x' }]),
    });
    const run = await d.start(s);
    const pid = run.pid!;
    assert.equal(run.pidStart, pidStartTime(pid));
    for (let i = 0; i < 100 && !(await output(d, s.task.id)).includes('up'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(readlinkSync(`/proc/${pid}/exe`), realpathSync('/bin/sh'), 'nsenter became the program, keeping its pid');
    const ns = await nsOf(pid);
    assert.ok(nsUsers(ns, s.task.id).heldHere, 'the driver holds the namespace while the task runs');
    assert.ok(nsUsers(ns, s.task.id).pids.includes(pid), 'the program is in it (with the children it starts)');
    await d.stop(s.task.id, { signal: 'SIGTERM', graceMs: 5000 });
    assert.deepEqual(await exited(s.task.id), { exitCode: 7, signal: null });
    assert.ok((await output(d, s.task.id)).includes('got TERM'));
    assert.ok(!alive(pid));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(nsUsers(ns, s.task.id), { pids: [], heldHere: false }, 'nothing keeps the namespace: it is gone');
    assert.deepEqual(holders(), [], 'no setup process is left');
  });

  it('health probes run inside the task\'s namespace, in its working folder', async () => {
    const { d } = setup();
    const s = spec(['sleep', '300'], { files: files([{ kind: 'secret', target: '/run/secrets/probe', content: 'x' }]), workingDir: '/usr' });
    await d.start(s);
    assert.deepEqual(await d.exec(s.task.id, { argv: ['test', '-r', '/run/secrets/probe'] }, 5000), { exitCode: 0, output: '' });
    assert.deepEqual(await d.exec(s.task.id, { shell: 'pwd' }, 5000), { exitCode: 0, output: '/usr\n' });
    await d.stop(s.task.id, { signal: 'SIGKILL', graceMs: 0 });
  });

  it('passes the environment untouched, even names a shell would drop', async () => {
    const { d, exited } = setup();
    const s = spec(['env'], { env: { PATH: '/usr/bin:/bin', 'A.B': 'dotted', 'x-y': 'dashed' }, files: files([{ kind: 'config', target: `/tmp/${tag}.conf`, content: 'c' }]) });
    await d.start(s);
    await exited(s.task.id);
    const env = await output(d, s.task.id);
    assert.ok(env.includes('A.B=dotted') && env.includes('x-y=dashed'), env.join(' '));
    assert.ok(!env.some((l) => l.startsWith('PWD=') || l.startsWith('OLDPWD=')), 'nothing added');
  });

  it('runs as the task\'s user, without the daemon\'s groups; files are handed to it', async () => {
    const { d, exited } = setup();
    const f = files([{ kind: 'secret', target: '/run/secrets/mine', content: 'm' }]);
    const s = spec(['sh', '-c', 'id -u; id -G; cat /run/secrets/mine; echo'], { user: '65534:65534', files: f });
    await d.start(s);
    assert.equal((await exited(s.task.id)).exitCode, 0);
    assert.deepEqual(await output(d, s.task.id), ['65534', '65534', 'm']);
  });

  it('refuses a start it cannot set up, saying why, and leaves nothing behind', async () => {
    const { d } = setup();
    await assert.rejects(d.start(spec(['true'], { files: files([{ kind: 'config', target: '/etc', content: 'x' }]) })),
      (e: unknown) => e instanceof TaskStartError && e.reason === 'invalid' && /"\/etc" is a directory/.test(e.message));
    const f = files([{ kind: 'secret', target: '/run/secrets/gone', content: 'x' }]);
    rmSync(f.entries[0].hostPath);
    await assert.rejects(d.start(spec(['true'], { files: f })), (e: unknown) => e instanceof TaskStartError && /cannot place secrets and configs: .*mount/.test(e.message));
    assert.deepEqual(holders(), []);
    assert.deepEqual(hostMounts(), []);
  });

  it('recover after a daemon died stops its namespaced tasks, and their namespaces end', async () => {
    const instance = `ns-recover-${process.pid}`;
    const old = setup({ instance });
    const s = spec(['sleep', '300'], { files: files([{ kind: 'secret', target: '/run/secrets/r', content: 'r' }]) });
    const run = await old.d.start(s);
    const ns = await nsOf(run.pid!);
    const next = setup({ instance });
    assert.deepEqual(await next.d.recover([{ taskId: s.task.id, pid: run.pid, pidStart: run.pidStart }]), []);
    await old.exited(s.task.id);
    assert.ok(!alive(run.pid!));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(nsUsers(ns, s.task.id), { pids: [], heldHere: false });
  });
});

describe('process driver without a mount namespace', () => {
  it('leaves files in the task folder, where the environment points; targets stay unseen', async () => {
    const { d, exited } = setup({ namespaces: false });
    assert.equal(d.filesAtTargets, false);
    const f = files([{ kind: 'secret', target: `/run/secrets/${tag}`, content: 'x' }]);
    const s = spec(['sh', '-c', `test -e /run/secrets/${tag} && echo seen || echo unseen; cat "$1"; echo`, 'sh', f.entries[0].hostPath], { files: f });
    const run = await d.start(s);
    assert.equal((await exited(s.task.id)).exitCode, 0);
    assert.deepEqual(await output(d, s.task.id), ['unseen', 'x']);
    assert.ok(run.pid);
  });
});

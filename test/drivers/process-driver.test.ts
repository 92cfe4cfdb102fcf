import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProcessDriver, TaskStartError, type Driver, type ExitInfo, type LogLine, type RunSpec } from '../../src/drivers/index.js';

const home = mkdtempSync(join(tmpdir(), 'baton-drv-'));
after(() => rmSync(home, { recursive: true, force: true }));
let seq = 0;

function setup(opts: { logMaxBytes?: number; instance?: string } = {}): { d: Driver; exits: Map<string, ExitInfo>; exited: (id: string) => Promise<ExitInfo> } {
  const d = createProcessDriver({ home, instance: opts.instance ?? 'test-instance', logMaxBytes: opts.logMaxBytes, logMaxFiles: 3 });
  const exits = new Map<string, ExitInfo>();
  const waiters = new Map<string, (e: ExitInfo) => void>();
  d.on({ exited: (id, info) => {
    exits.set(id, info);
    waiters.get(id)?.(info);
  } });
  const exited = (id: string): Promise<ExitInfo> => (exits.has(id) ? Promise.resolve(exits.get(id)!) : new Promise((r) => waiters.set(id, r)));
  return { d, exits, exited };
}

const spec = (argv: string[], extra: Partial<RunSpec> = {}): RunSpec => ({
  task: { id: `t${process.pid}x${seq++}`, project: 'p', service: 's', slot: 1 },
  argv,
  env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  workingDir: home,
  stopSignal: 'SIGTERM',
  stopGraceMs: 2000,
  ...extra,
});

import { alive } from '../../src/drivers/process/procfs.js';

async function collect(d: Driver, id: string, opts: { tail?: number } = {}): Promise<LogLine[]> {
  const out: LogLine[] = [];
  await d.logs(id, opts, (l) => out.push(l));
  return out;
}

describe('process driver', () => {
  it('runs a command, keeps stdout and stderr apart with timestamps, reports the exit code', async () => {
    const { d, exited } = setup();
    const s = spec(['sh', '-c', 'echo hi; echo err >&2; exit 3']);
    const run = await d.start(s);
    assert.ok(run.pid && run.pidStart);
    assert.deepEqual(await exited(s.task.id), { exitCode: 3, signal: null });
    const lines = await collect(d, s.task.id);
    assert.deepEqual(lines.map((l) => [l.stream, l.line]).sort(), [['stderr', 'err'], ['stdout', 'hi']]);
    assert.ok(lines.every((l) => !Number.isNaN(Date.parse(l.time))));
  });

  it('passes exactly the given environment, plus its own markers', async () => {
    const { d, exited } = setup();
    const s = spec(['sh', '-c', 'env | sort'], { env: { PATH: process.env.PATH!, ONLY_THIS: 'yes' } });
    await d.start(s);
    await exited(s.task.id);
    const env = (await collect(d, s.task.id)).map((l) => l.line);
    assert.ok(env.includes('ONLY_THIS=yes'));
    assert.ok(env.includes('BATON_INSTANCE=test-instance'));
    assert.ok(env.includes(`BATON_TASK_ID=${s.task.id}`));
    assert.ok(!env.some((l) => l.startsWith('HOME=')), 'nothing of the daemon leaks in');
  });

  it('refuses a command that does not exist, before spawning', async () => {
    const { d } = setup();
    await assert.rejects(d.start(spec(['no-such-command-zz'])), (e: unknown) => e instanceof TaskStartError && e.reason === 'not-found' && /no-such-command-zz/.test(e.message));
  });

  it('stop sends the stop signal, then SIGKILL after the grace period, to the whole group', async () => {
    const { d, exited } = setup();
    // Ignores SIGTERM and leaves a grandchild behind: both must go.
    const s = spec(['sh', '-c', 'trap "" TERM; sleep 300 & echo $!; wait'], { stopGraceMs: 300 });
    const run = await d.start(s);
    let grandchild = 0;
    for (let i = 0; i < 50 && !grandchild; i++) {
      await new Promise((r) => setTimeout(r, 20));
      grandchild = Number((await collect(d, s.task.id))[0]?.line ?? 0);
    }
    assert.ok(grandchild > 0);
    const t0 = Date.now();
    await d.stop(s.task.id, { signal: 'TERM', graceMs: 300 });
    assert.ok(Date.now() - t0 >= 250, 'waited the grace period');
    assert.equal((await exited(s.task.id)).signal, 'SIGKILL');
    assert.ok(!alive(run.pid!));
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(!alive(grandchild), 'grandchild killed with its group');
  });

  it('a process that honours SIGTERM stops at once', async () => {
    const { d, exited } = setup();
    const s = spec(['sleep', '300']);
    await d.start(s);
    const t0 = Date.now();
    await d.stop(s.task.id, { signal: 'SIGTERM', graceMs: 5000 });
    assert.ok(Date.now() - t0 < 2000);
    assert.equal((await exited(s.task.id)).signal, 'SIGTERM');
    await d.stop('unknown-task', { signal: 'SIGTERM', graceMs: 10 }); // no-op
  });

  it('rotates logs by size and reads them back oldest first; tail takes the last lines', async () => {
    const { d, exited } = setup({ logMaxBytes: 2000 });
    const s = spec(['sh', '-c', 'i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done']);
    await d.start(s);
    await exited(s.task.id);
    const files = readdirSync(join(home, 'logs')).filter((f) => f.startsWith(s.task.id));
    assert.equal(files.length, 3, files.join(','));
    const all = (await collect(d, s.task.id)).map((l) => l.line);
    assert.equal(all[all.length - 1], 'line-199');
    assert.ok(all.length < 200, 'the oldest rotated away');
    const nums = all.map((l) => Number(l.slice(5)));
    assert.deepEqual(nums, [...nums].sort((a, b) => a - b));
    assert.deepEqual((await collect(d, s.task.id, { tail: 2 })).map((l) => l.line), ['line-198', 'line-199']);
    await d.remove(s.task.id);
    assert.equal(readdirSync(join(home, 'logs')).filter((f) => f.startsWith(s.task.id)).length, 0);
  });

  it('follows logs live until aborted', async () => {
    const { d } = setup();
    const s = spec(['sh', '-c', 'echo one; sleep 0.3; echo two; sleep 300']);
    await d.start(s);
    const ac = new AbortController();
    const got: string[] = [];
    const done = d.logs(s.task.id, { follow: true, signal: ac.signal }, (l) => {
      got.push(l.line);
      if (l.line === 'two') ac.abort();
    });
    await done;
    assert.deepEqual(got, ['one', 'two']);
    await d.stop(s.task.id, { signal: 'SIGKILL', graceMs: 0 });
  });

  it('exec runs probes in the task environment and times out', async () => {
    const { d } = setup();
    const s = spec(['sleep', '300'], { env: { PATH: process.env.PATH!, PROBE_VAR: 'x1' } });
    await d.start(s);
    assert.deepEqual(await d.exec(s.task.id, { shell: 'echo $PROBE_VAR' }, 2000), { exitCode: 0, output: 'x1\n' });
    assert.equal((await d.exec(s.task.id, { argv: ['false'] }, 2000)).exitCode, 1);
    assert.equal((await d.exec(s.task.id, { argv: ['sleep', '5'] }, 200)).exitCode, null);
    await d.stop(s.task.id, { signal: 'SIGKILL', graceMs: 0 });
  });

  it('a probe still running when its task ends goes with it; probes carry the task\'s markers; none runs for a gone task', async () => {
    const { d, exited } = setup();
    const s = spec(['sleep', '300']);
    await d.start(s);
    const probe = d.exec(s.task.id, { shell: 'echo $BATON_INSTANCE $BATON_TASK_ID; sleep 30' }, 60_000);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await d.stop(s.task.id, { signal: 'SIGKILL', graceMs: 0 });
    await exited(s.task.id);
    const r = await probe;
    assert.ok(Date.now() - t0 < 5000, 'the probe did not outlive the task');
    assert.equal(r.output, `test-instance ${s.task.id}\n`);
    assert.deepEqual(await d.exec(s.task.id, { argv: ['true'] }, 1000), { exitCode: null, output: 'task is not running here' });
  });

  it('recover stops what a previous instance left running, and nothing of another instance', async () => {
    const mine = spawn('sleep', ['300'], { detached: true, stdio: 'ignore', env: { ...process.env, BATON_INSTANCE: 'inst-a' } });
    const theirs = spawn('sleep', ['300'], { detached: true, stdio: 'ignore', env: { ...process.env, BATON_INSTANCE: 'inst-b' } });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const { d } = setup({ instance: 'inst-a' });
      assert.deepEqual(await d.recover([{ taskId: 'old', pid: mine.pid }]), []);
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(!alive(mine.pid!), 'our orphan is gone');
      assert.ok(alive(theirs.pid!), 'another daemon\'s process is untouched');
    } finally {
      theirs.kill('SIGKILL');
      mine.kill('SIGKILL');
    }
  });
});

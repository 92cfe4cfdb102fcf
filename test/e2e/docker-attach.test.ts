// exec and run attached, end to end against the real engine: a TTY when the
// CLI runs in a terminal (a pseudo-terminal made by util-linux's `script`),
// stdin forwarded with or without one, the terminal's size followed, stdout
// and stderr kept apart without a TTY, and the command's exit code.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dockerForTests } from '../helpers/docker.js';
import { Sandbox, waitFor, type RunResult } from '../helpers/baton.js';
import { inTerminal as typeIn, shQuote } from '../helpers/terminal.js';

const engine = await dockerForTests();

describe('exec and run attached (stdin, TTY)', { skip: engine.skip }, () => {
  const sb = new Sandbox();
  const project = `at${process.pid}`;
  const env = (): Record<string, string> => ({ DOCKER_HOST: engine.host });
  const baton = (args: string[], input?: string): Promise<string> => sb.ok(args, { env: env(), input });
  const docker = (...args: string[]): string => execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: engine.host }, encoding: 'utf8' }).trim();
  const containers = (): string[] => docker('ps', '-aq', '--filter', `label=com.baton.project=${project}`).split('\n').filter(Boolean);
  const quote = shQuote;
  const inTerminal = (shell: string, input: string): Promise<RunResult> => typeIn(shell, input, { cwd: sb.dir, env: sb.env(env()) });

  before(async () => {
    sb.write(
      'compose.yaml',
      `name: ${project}
services:
  web:
    image: ${engine.image}
    command: ["sh", "-c", "exec sleep 100000"]
    init: true
`,
    );
    await baton(['up', '-d', '--wait']);
  });

  after(async () => {
    await sb.run(['down', '-v'], { env: env() });
    await sb.cleanup();
    for (const id of containers()) docker('rm', '-f', id);
    await engine.release();
  });

  it('exec in a terminal gets a TTY, reads what is typed, and exits with the command\'s code', async () => {
    const r = await inTerminal(`$BATON exec web sh -c ${quote('tty; read x; echo "got:$x"; exit 5')}`, 'hello\n');
    assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r?$/m, r.stdout);
    assert.match(r.stdout, /got:hello\r?$/m, r.stdout);
    // With a TTY, ^C is a key for the command, not a signal for the CLI: the shell inside sees it.
    const c = await inTerminal(`$BATON exec web sh -c ${quote('trap "echo caught-int; exit 9" INT; echo ready; while true; do sleep 0.1; done')}`, '\x03');
    assert.equal(c.code, 9, c.stdout);
    assert.match(c.stdout, /caught-int/);
  });

  it('exec takes the terminal\'s size and follows it when it changes', async () => {
    // Engines before API 1.42 take no size at the start, only a resize right after it (as with docker exec): a moment's wait.
    const first = await inTerminal(`stty cols 132 rows 41; $BATON exec web sh -c ${quote('sleep 0.5; stty size')}`, '');
    assert.equal(first.code, 0, first.stdout);
    assert.match(first.stdout, /^41 132\r?$/m, first.stdout);
    // stty in the same terminal resizes it: the CLI, in its foreground process group, gets SIGWINCH.
    const later = await inTerminal(`stty cols 90 rows 20; $BATON exec web sh -c ${quote('sleep 2; stty size')} </dev/tty & sleep 1; stty cols 101 rows 33; wait $!`, '');
    assert.equal(later.code, 0, later.stdout);
    assert.match(later.stdout, /^33 101\r?$/m, later.stdout);
  });

  it('exec -T forwards stdin without a TTY, keeping stdout and stderr apart', async () => {
    assert.equal(await baton(['exec', '-T', 'web', 'cat'], 'hi\nthere\n'), 'hi\nthere\n');
    const r = await sb.run(['exec', '-T', 'web', 'sh', '-c', 'read a; echo "out:$a"; echo "err:$a" >&2; tty; exit 3'], { env: env(), input: 'x\n' });
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'out:x\nnot a tty\n');
    assert.equal(r.stderr, 'err:x\n');
    // Not in a terminal: no TTY even without -T; --no-interactive gives the command an empty stdin.
    assert.equal(await baton(['exec', 'web', 'sh', '-c', 'tty || true']), 'not a tty\n');
    assert.equal(await baton(['exec', '--no-interactive', 'web', 'sh', '-c', 'cat; echo end'], 'ignored\n'), 'end\n');
    // A large input arrives whole.
    const big = 'x'.repeat(3 * 1024 * 1024);
    assert.equal((await baton(['exec', '-T', 'web', 'wc', '-c'], big)).trim(), String(big.length));
  });

  it('^C without a TTY leaves: exec with 130, run stopping its container (--rm: removed)', async () => {
    const interrupt = (args: string[]): Promise<number | null> => {
      const child = sb.spawn(args, { env: env() });
      setTimeout(() => child.kill('SIGINT'), 2500);
      return new Promise((r) => child.once('exit', (code) => r(code)));
    };
    const started = Date.now();
    assert.equal(await interrupt(['exec', '-T', 'web', 'sleep', '60']), 130);
    const before = containers().length;
    const code = await interrupt(['run', '--rm', '-T', 'web', 'sleep', '60']);
    assert.ok(code !== 0 && code !== null, `run ended with ${code}`);
    assert.ok(Date.now() - started < 30_000, 'both left at once, not after their commands');
    // The daemon stops and removes it once the CLI has gone.
    await waitFor(() => containers().length === before, 30_000, 'the one-off container to be stopped and removed');
  });

  it('exec of a command that cannot start says so, with 126 as docker exec', async () => {
    const r = await sb.run(['exec', '-T', 'web', 'no-such-program'], { env: env() });
    assert.ok(r.code === 126 || r.code === 127, `exit ${r.code}: ${r.stderr}`);
    const bad = await sb.run(['exec', '--index', '4', 'web', 'true'], { env: env() });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /service "web" has no running task with index 4/);
  });

  it('run in a terminal gets a TTY and stdin; -T keeps the streams apart; --rm leaves nothing', async () => {
    const before = containers().length;
    const r = await inTerminal(`$BATON run --rm web sh -c ${quote('tty; read x; echo "run-got:$x"; exit 4')}`, 'typed\n');
    assert.equal(r.code, 4, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r?$/m);
    assert.match(r.stdout, /run-got:typed\r?$/m);
    const piped = await sb.run(['run', '--rm', '-T', 'web', 'sh', '-c', 'cat; echo done >&2; exit 2'], { env: env(), input: 'from stdin\n' });
    assert.equal(piped.code, 2, piped.stderr);
    assert.equal(piped.stdout, 'from stdin\n');
    assert.equal(piped.stderr, 'done\n');
    assert.equal(containers().length, before, '--rm: no one-off container is left');
  });
});

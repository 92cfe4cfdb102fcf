// `build`/`up` against a remote daemon (BATON_HOST): the daemon cannot read
// the CLI's folders, so the CLI packs each context (.dockerignore applied) and
// sends it. To make sure nothing is read on the daemon's side, the CLI runs in
// a mount namespace of its own where the project lives on a tmpfs the daemon
// does not see: to the daemon, the context folder does not exist.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dockerForTests } from '../helpers/docker.js';
import { BIN, Sandbox, freePort, outcome, tlsCall, waitFor, type RunResult } from '../helpers/baton.js';

const engine = await dockerForTests();
const TOKEN = `remote-build-${process.pid}`;

describe('build against a remote daemon sends the context', { skip: engine.skip }, () => {
  const sb = new Sandbox();
  const project = `rb${process.pid}`;
  // The CLI's view of the project: a tmpfs over this (empty, to the daemon) folder.
  const view = join(dirname(sb.home), 'cli-view');
  let daemon: ChildProcess;
  let base = '';
  const docker = (...args: string[]): string => execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: engine.host }, encoding: 'utf8' }).trim();
  const remoteEnv = (): Record<string, string> => ({ BATON_HOST: base, BATON_TOKEN: TOKEN, BATON_TLS_CA: join(sb.home, 'tls', 'server.crt') });
  /** The CLI in its own mount namespace, in the project as only it sees it. */
  const cli = (args: string[]): Promise<RunResult> => {
    const script = 'mount -t tmpfs baton-cli-view "$VIEW" && cp -a "$SRC/." "$VIEW/" && cd "$VIEW" && exec "$NODE" "$BIN" "$@"';
    const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', ...args], {
      env: { ...sb.env(remoteEnv()), VIEW: view, SRC: sb.dir, NODE: process.execPath, BIN },
    });
    child.stdin.end();
    return outcome(child, `baton ${args.join(' ')}`, 180_000);
  };

  before(async () => {
    mkdirSync(view);
    sb.write(
      'compose.yaml',
      `name: ${project}
services:
  app:
    build:
      context: ./app
      args: {GREETING: from-the-cli-side}
    command: ["sh", "-c", "exec sleep 100000"]
    init: true
  inline:
    build:
      context: ./app
      dockerfile_inline: |
        FROM ${engine.image}
        COPY hello.txt /inline.txt
    command: ["sh", "-c", "exec sleep 100000"]
    init: true
`,
    );
    sb.write('app/Dockerfile', `FROM ${engine.image}\nARG GREETING\nCOPY . /ctx/\nRUN echo "$GREETING" > /greeting.txt\n`);
    sb.write('app/hello.txt', 'hello from a folder the daemon cannot see\n');
    sb.write('app/secret.txt', 'left out by .dockerignore\n');
    sb.write('app/.dockerignore', 'secret.txt\n');
    const port = await freePort();
    base = `https://127.0.0.1:${port}`;
    daemon = sb.spawn(['daemon', '--listen', `127.0.0.1:${port}`, '--token', TOKEN], { env: { DOCKER_HOST: engine.host } });
    await waitFor(async () => {
      try {
        return (await tlsCall(`${base}/v1/version`, { token: TOKEN, ca: readFileSync(join(sb.home, 'tls', 'server.crt'), 'utf8') })).status === 200;
      } catch {
        return false;
      }
    }, 20_000, 'the TCP API');
  });

  after(async () => {
    await sb.run(['down', '-v'], { env: { DOCKER_HOST: engine.host } });
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    await sb.cleanup();
    for (const s of ['app', 'inline']) execFileSync('docker', ['rmi', '-f', `${project}-${s}`], { env: { ...process.env, DOCKER_HOST: engine.host }, stdio: 'ignore' });
    await engine.release();
  });

  it('up builds from the contexts the CLI sends, with .dockerignore, args and an inline Dockerfile', async () => {
    assert.ok(!existsSync(join(view, 'app')), 'the daemon\'s side has no context folder');
    const r = await cli(['up', '-d', '--wait']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${sb.daemonLog().slice(-2000)}`);
    assert.match(r.stdout, /#app Building/);
    assert.match(r.stdout, /#inline Building/);
    const exec = (args: string[]): Promise<string> => sb.ok(['exec', ...args], { env: remoteEnv() });
    assert.equal(await exec(['app', 'cat', '/ctx/hello.txt']), 'hello from a folder the daemon cannot see\n');
    assert.equal(await exec(['app', 'cat', '/greeting.txt']), 'from-the-cli-side\n');
    assert.equal(await exec(['app', 'ls', '-A', '/ctx']), '.dockerignore\nDockerfile\nhello.txt\n', 'secret.txt left out');
    assert.equal(await exec(['inline', 'cat', '/inline.txt']), 'hello from a folder the daemon cannot see\n');
  });

  it('up again sends nothing (the images are there); build rebuilds; a broken build names its service', async () => {
    const again = await cli(['up', '-d', '--wait']);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /Building/);
    const rebuilt = await cli(['build', 'app']);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.match(rebuilt.stdout, /#app Building/);
    assert.match(rebuilt.stdout, /Service app\s+Built/);
    assert.doesNotMatch(rebuilt.stdout, /#inline/);
    sb.write('app/Dockerfile', `FROM ${engine.image}\nRUN exit 3\n`);
    const broken = await cli(['build', 'app']);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /service "app": build failed: .*returned a non-zero code: 3/);
    assert.ok(docker('image', 'inspect', '-f', '{{.Id}}', `${project}-app`), 'the image built before is still there');
  });
});

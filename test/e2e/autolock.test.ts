// Issue 8: autolock. With it on, the key that opens the secrets is kept
// encrypted under an unlock key; a restarted daemon starts nothing until
// `baton unlock` is given that key.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, freePort, httpGet, waitFor } from '../helpers/baton.js';

describe('autolock', () => {
  const sb = new Sandbox();
  after(async () => {
    await sb.run(['down']);
    await sb.cleanup();
  });

  it('a restarted daemon waits for the unlock key, refuses a wrong one, and serves again with the right one', async () => {
    const port = await freePort();
    sb.write('pw.txt', 'autolock-secret-value');
    sb.write('server.mjs', `import http from 'node:http'; import { readFileSync } from 'node:fs';
http.createServer((q, s) => s.end(readFileSync(process.env.BATON_SECRETS_DIR + '/pw').length + ' bytes')).listen(Number(process.env.PORT), '127.0.0.1');`);
    sb.write('compose.yaml', `name: lock${process.pid}
x-baton: {driver: process}
services:
  app:
    command: [node, server.mjs]
    ports: ["${port}:8080"]
    secrets: [pw]
secrets:
  pw: {file: ./pw.txt}
`);
    await sb.ok(['up', '-d', '--wait']);
    const key = (await sb.ok(['autolock', 'on'])).trim();
    assert.match(key, /^BTNKEY-[A-Za-z0-9_-]{32}$/);
    const keyFile = readFileSync(join(sb.home, 'secrets.key'), 'utf8');
    assert.match(keyFile, /"locked":1/);

    process.kill(sb.daemonPid()!, 'SIGKILL');
    await waitFor(() => sb.daemonPid() === undefined, 10_000, 'the daemon to die');
    // The next command starts a daemon, which stays locked.
    const refused = await sb.run(['up', '-d']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /the daemon is locked \(autolock\): run "baton unlock"/);
    const ps = await sb.run(['ps']);
    assert.equal(ps.code, 1, 'nothing is served while locked');

    const wrong = await sb.run(['unlock'], { input: 'BTNKEY-not-the-key\n' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /wrong unlock key/);

    await sb.ok(['unlock'], { input: `${key}\n` });
    await sb.ok(['up', '-d', '--wait']);
    assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).body, '21 bytes');

    // The unlock key is kept nowhere baton writes.
    for (const f of readdirSync(sb.home, { recursive: true, encoding: 'utf8' })) {
      const p = join(sb.home, f);
      if (statSync(p).isFile() && !p.endsWith('.sock')) assert.ok(!readFileSync(p, 'latin1').includes(key.slice(7)), `the unlock key is in ${f}`);
    }

    await sb.ok(['autolock', 'off']);
    assert.doesNotMatch(readFileSync(join(sb.home, 'secrets.key'), 'utf8'), /locked/);
  });

  it('baton manager --autolock locks the key at start, shows the unlock key once, and a restart waits for it', async () => {
    const m = new Sandbox();
    const listen = `127.0.0.1:${await freePort()}`;
    try {
      const first = m.spawn(['manager', '--listen-addr', listen, '--autolock']);
      let out = '';
      first.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(() => /BTNKEY-/.test(out), 20_000, 'the unlock key on stdout');
      const key = /BTNKEY-[A-Za-z0-9_-]+/.exec(out)![0];
      assert.match(readFileSync(join(m.home, 'secrets.key'), 'utf8'), /"locked":1/);
      await waitFor(async () => (await m.run(['version', '--format', 'json'])).stdout.includes('"daemon": {'), 20_000, 'the manager');
      const firstGone = first.exitCode === null ? new Promise((r) => first.once('exit', r)) : Promise.resolve();
      first.kill('SIGKILL');
      await firstGone;
      const again = m.spawn(['manager', '--listen-addr', listen, '--autolock']);
      let out2 = '';
      let err2 = '';
      again.stdout!.on('data', (d: Buffer) => (out2 += d.toString()));
      again.stderr!.on('data', (d: Buffer) => (err2 += d.toString()));
      try {
        await waitFor(async () => (await m.run(['unlock'], { input: `${key}\n` })).code === 0, 20_000, 'unlock of the restarted manager').catch((e: Error) => {
          throw new Error(`${e.message}; the manager ${again.exitCode === null ? 'runs' : `exited ${again.exitCode}`}; its log:\n${err2}`);
        });
        let last = '';
        await waitFor(async () => {
          const r = await m.run(['join-token', 'worker', '-q']);
          last = r.stderr;
          return r.code === 0;
        }, 20_000, 'the manager serving after unlock').catch((e: Error) => {
          throw new Error(`${e.message}; join-token said: ${last.trim()}; the manager ${again.exitCode === null ? 'runs' : `exited ${again.exitCode}`}; its log:\n${err2}`);
        });
        assert.doesNotMatch(out2, /BTNKEY-/, 'an already locked key is not locked again, and no new key is shown');
      } finally {
        // Waited for only while it runs: an exit that already happened would never come again.
        if (again.exitCode === null && again.signalCode === null) {
          const gone = new Promise((r) => again.once('exit', r));
          again.kill('SIGTERM');
          await gone;
        }
      }
    } finally {
      await m.cleanup();
    }
  });
});

// Issue 8: every route of the API against no token, a viewer, a deployer and
// an admin token, on a real daemon's TCP listener; what is refused changes nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { ROUTES, allows, ROLES } from '../../src/api/routes.js';
import type { Role } from '../../src/model/types.js';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { Sandbox, freePort, tlsCall, waitFor } from '../helpers/baton.js';

const DAEMON_TOKEN = `bootstrap-${process.pid}-x`;

describe('API roles', () => {
  const sb = new Sandbox();
  let daemon: ChildProcess;
  let base = '';
  const tokens = new Map<Role, string>();

  let ca = '';
  const call = async (method: string, path: string, token?: string): Promise<number> =>
    (await tlsCall(base + path, { method, token, ca, body: method === 'POST' ? '{}' : undefined })).status;
  const overTcp = (token: string): Record<string, string> => ({ BATON_HOST: base, BATON_TOKEN: token, BATON_TLS_CA: join(sb.home, 'tls', 'server.crt') });
  /** Store revision and event count: what a refused request must leave as it was. */
  const state = async (): Promise<string> => {
    const events = await sb.ok(['events', '--since', '0', '--no-follow', '--json']);
    const tokensNow = await sb.ok(['token', 'ls', '--format', 'json']);
    return `${events.trim().split('\n').length}|${tokensNow}|${await sb.ok(['ls', '--format', 'json'])}`;
  };
  const concrete = (path: string): string => path.replace(':name', 'nosuchproject').replace(':service', 'web').replace(':id', 'nosuchtoken').replace(':role', 'worker');

  before(async () => {
    const port = await freePort();
    base = `https://127.0.0.1:${port}`;
    daemon = sb.spawn(['daemon', '--listen', `127.0.0.1:${port}`, '--token', DAEMON_TOKEN]);
    await waitFor(async () => {
      try {
        ca = readFileSync(join(sb.home, 'tls', 'server.crt'), 'utf8');
        return (await call('GET', '/v1/version', DAEMON_TOKEN)) === 200;
      } catch {
        return false;
      }
    }, 15_000, 'the TCP API');
    for (const role of ROLES) {
      const t = (await sb.ok(['token', 'create', '--role', role, '--name', `test ${role}`])).trim();
      assert.match(t, /^btk_[a-f0-9]{12}_/);
      tokens.set(role, t);
    }
  });

  after(async () => {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.on('exit', r));
    await sb.cleanup();
  });

  it('refuses every route without a valid token (401) and below its role (403), changing nothing', async () => {
    const before = await state();
    let refused = 0;
    for (const r of ROUTES) {
      const path = concrete(r.path);
      assert.equal(await call(r.method, path), 401, `${r.method} ${r.path} without a token`);
      assert.equal(await call(r.method, path, 'btk_000000000000_aaaaaaaaaaaaaaaaaaaaaaaa'), 401, `${r.method} ${r.path} with a made-up token`);
      refused += 2;
      for (const role of ROLES) {
        if (allows(role, r.role)) continue;
        assert.equal(await call(r.method, path, tokens.get(role)), 403, `${r.method} ${r.path} as ${role} (needs ${r.role})`);
        refused++;
      }
    }
    assert.ok(refused > ROUTES.length * 2, 'roles below some routes were tried');
    assert.equal(await state(), before, 'a refused request changed something');
  });

  it('lets each role through where its role allows', async () => {
    for (const r of ROUTES) {
      for (const role of ROLES) {
        if (!allows(role, r.role)) continue;
        const status = await call(r.method, concrete(r.path), tokens.get(role));
        assert.ok(status !== 401 && status !== 403, `${r.method} ${r.path} as ${role}: ${status}`);
      }
    }
  });

  it('checks the upgraded (attached) exec and run as the plain routes, and upgrades no other route', async () => {
    /** The status an upgrade request gets: 101 when switched, else the refusal's. */
    const upgrade = (path: string, token?: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const body = JSON.stringify({ service: 'web', argv: ['true'], stdin: true });
        const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'Upgrade', upgrade: 'baton-stdio/1' };
        if (token) headers.authorization = `Bearer ${token}`;
        const req = https.request(base + path, { method: 'POST', headers, ca });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('upgrade', (res, socket) => {
          socket.destroy();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
    const before = await state();
    for (const r of ROUTES.filter((x) => /\/(exec|run)$/.test(x.path))) {
      const path = concrete(r.path);
      assert.equal(await upgrade(path), 401, `${r.path} upgraded, without a token`);
      assert.equal(await upgrade(path, 'btk_000000000000_aaaaaaaaaaaaaaaaaaaaaaaa'), 401, `${r.path} upgraded, made-up token`);
      for (const role of ROLES) {
        const status = await upgrade(path, tokens.get(role));
        if (allows(role, r.role)) assert.equal(status, 404, `${r.path} upgraded as ${role}: through to the missing project`);
        else assert.equal(status, 403, `${r.path} upgraded as ${role} (needs ${r.role})`);
      }
    }
    assert.equal(await upgrade('/v1/projects/nosuchproject/scale', DAEMON_TOKEN), 400, 'a route without an attached form refuses the upgrade');
    assert.equal(await state(), before, 'a refused upgrade changed something');
  });

  it('the role table names viewers for reads only and admins for secrets and tokens', () => {
    for (const r of ROUTES) if (r.role === 'viewer') assert.equal(r.method, 'GET', `${r.method} ${r.path} is open to viewers`);
    for (const r of ROUTES) if (/secrets|tokens|configs/.test(r.path) && r.method !== 'GET') assert.equal(r.role, 'admin');
  });

  it('speaks TLS only, with a certificate the client can pin', async () => {
    await assert.rejects(fetch(base.replace('https:', 'http:') + '/v1/version', { headers: { authorization: `Bearer ${DAEMON_TOKEN}` } }));
    await assert.rejects(tlsCall(`${base}/v1/version`, { token: DAEMON_TOKEN }), /self-signed|self signed/);
    const bad = await sb.run(['ls'], { env: { BATON_HOST: base.replace('https:', 'http:'), BATON_TOKEN: DAEMON_TOKEN } });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /BATON_HOST: expected https:\/\/HOST:PORT/);
    const unpinned = await sb.run(['ls'], { env: { BATON_HOST: base, BATON_TOKEN: DAEMON_TOKEN } });
    assert.equal(unpinned.code, 1);
    assert.match(unpinned.stderr, /cannot reach the baton daemon .*self.signed/);
  });

  it('a revoked token is refused; the token list never shows a token', async () => {
    const viewer = tokens.get('viewer')!;
    assert.equal(await call('GET', '/v1/projects', viewer), 200);
    const ls = await sb.ok(['token', 'ls']);
    for (const t of tokens.values()) assert.ok(!ls.includes(t.slice('btk_000000000000_'.length)), 'a token secret is listed');
    const id = viewer.split('_')[1];
    await sb.ok(['token', 'rm', id]);
    assert.equal(await call('GET', '/v1/projects', viewer), 401);
    // The CLI works over TCP with a token, as it does on the socket.
    const out = await sb.ok(['ls', '--format', 'json'], { env: overTcp(tokens.get('deployer')!) });
    assert.deepEqual(JSON.parse(out), []);
    const denied = await sb.run(['secret', 'create', 'x', '-'], { env: overTcp(tokens.get('deployer')!), input: 'v' });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /needs the admin role; this token is deployer/);
  });
});

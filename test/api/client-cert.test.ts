// Issue 8: on TCP, a client certificate signed by the daemon's client CA is
// let in without a token, with the role its subject's OU names.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox, freePort, tlsCall, waitFor } from '../helpers/baton.js';

if (spawnSync('sh', ['-c', 'command -v openssl'], { stdio: 'ignore' }).status !== 0 && process.getuid?.() === 0) {
  execFileSync('apt-get', ['install', '-y', '-qq', 'openssl'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

const dir = mkdtempSync(join(tmpdir(), 'baton-certs-'));
const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });

/** A CA, and client certificates it (or another CA) signs. */
function makeCa(name: string): void {
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`);
}
function makeClient(name: string, ca: string, subject: string): void {
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2');
}

describe('client certificates', () => {
  const sb = new Sandbox();
  let daemon: ChildProcess;
  let base = '';
  let serverCa = '';
  const call = (method: string, path: string, client?: string): Promise<number> =>
    tlsCall(base + path, { method, ca: serverCa, body: method === 'POST' ? '{}' : undefined, ...(client ? { cert: readFileSync(join(dir, `${client}.crt`), 'utf8'), key: readFileSync(join(dir, `${client}.key`), 'utf8') } : {}) }).then((r) => r.status);

  before(async () => {
    makeCa('clients');
    makeCa('stranger-ca');
    makeClient('deployer', 'clients', '/CN=ci/OU=deployer');
    makeClient('plain', 'clients', '/CN=someone');
    makeClient('bogus', 'clients', '/CN=x/OU=root');
    makeClient('stranger', 'stranger-ca', '/CN=eve/OU=admin');
    const port = await freePort();
    base = `https://127.0.0.1:${port}`;
    daemon = sb.spawn(['daemon', '--listen', `127.0.0.1:${port}`, '--token', `t-${process.pid}-boot`, '--tls-client-ca', join(dir, 'clients.crt')]);
    await waitFor(async () => {
      try {
        serverCa = readFileSync(join(sb.home, 'tls', 'server.crt'), 'utf8');
        await tlsCall(`${base}/v1/version`, { ca: serverCa });
        return true;
      } catch {
        return false;
      }
    }, 15_000, 'the TCP API');
  });

  after(async () => {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.on('exit', r));
    await sb.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the role from the OU, viewer without one, and refuses unknown roles and other CAs', async () => {
    assert.equal(await call('GET', '/v1/projects', 'deployer'), 200);
    assert.equal(await call('POST', '/v1/projects/nosuch/scale', 'deployer'), 400, 'a deployer may scale (the request itself is empty)');
    assert.equal(await call('POST', '/v1/secrets', 'deployer'), 403);
    assert.equal(await call('GET', '/v1/projects', 'plain'), 200);
    assert.equal(await call('POST', '/v1/projects/nosuch/scale', 'plain'), 403, 'no OU: a viewer');
    assert.equal(await call('GET', '/v1/projects', 'bogus'), 403);
    assert.equal(await call('GET', '/v1/projects', 'stranger'), 401, 'signed by another CA');
    assert.equal(await call('GET', '/v1/projects'), 401, 'neither certificate nor token');
  });

  it('the CLI uses BATON_TLS_CERT and BATON_TLS_KEY', async () => {
    const out = await sb.ok(['ls', '--format', 'json'], {
      env: { BATON_HOST: base, BATON_TLS_CA: join(sb.home, 'tls', 'server.crt'), BATON_TLS_CERT: join(dir, 'deployer.crt'), BATON_TLS_KEY: join(dir, 'deployer.key') },
    });
    assert.deepEqual(JSON.parse(out), []);
  });
});

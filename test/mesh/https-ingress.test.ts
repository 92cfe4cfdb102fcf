// Issue 7: HTTPS on the ingress with a certificate issued by a real ACME
// server (pebble) and verified by the client against pebble's root; HTTP
// redirected to HTTPS; a certificate given as files; ACME challenges answered.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { CertManager, HttpIngress } from '../../src/mesh/index.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';

const HOST = '127.0.0.1';
const pebble: Pebble = await startPebble();

function request(mod: typeof http | typeof https, port: number, host: string, path: string, ca?: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const opts = { host: HOST, port, path, headers: { host }, agent: false, ...(mod === https ? { servername: host, ca } : {}) };
    mod.get(opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    }).on('error', reject);
  });
}

describe('HTTPS ingress', { skip: pebble.skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-certs-'));
  let backendPort = 0;
  let ing: HttpIngress;
  let certs: CertManager;
  const backend = http.createServer((req, res) => res.end(`proto=${req.headers['x-forwarded-proto']} ${req.url}`));

  before(async () => {
    backend.listen(0, HOST);
    await once(backend, 'listening');
    backendPort = (backend.address() as net.AddressInfo).port;
    certs = new CertManager({ dir, acme: { directoryUrl: pebble.directoryUrl, serverCa: pebble.serverCa } });
    ing = new HttpIngress({ host: HOST, port: 0, httpsPort: 0, certificate: (n) => certs.context(n), acmeChallenge: (t) => certs.challenge(t) });
    const b = [{ id: 't1', host: HOST, port: backendPort }];
    await ing.apply([
      { id: 'p/shop', domains: ['shop.example.test'], path: '/', backends: b, tls: true, redirectHttps: true },
      { id: 'p/blog', domains: ['blog.example.test'], path: '/', backends: b, tls: true },
    ]);
  });

  after(async () => {
    await ing?.close();
    certs?.close();
    backend.close();
    await pebble.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a certificate issued by the ACME server, verified against its root', async () => {
    certs.ensure(new Map([['shop.example.test', { kind: 'acme' }]]));
    await certs.settled();
    assert.equal(certs.errors.get('shop.example.test'), undefined);
    const root = await pebble.root();
    const r = await request(https, ing.httpsPort!, 'shop.example.test', '/cart', root);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'proto=https /cart');
    assert.equal(statSync(join(dir, 'shop.example.test.key')).mode & 0o777, 0o600);
    // Not trusted without pebble's root.
    await assert.rejects(request(https, ing.httpsPort!, 'shop.example.test', '/'), /unable to (get|verify)|self.signed|certificate/i);
  });

  it('redirects HTTP to HTTPS when asked, and serves plain HTTP otherwise', async () => {
    const r = await request(http, ing.port, 'shop.example.test', '/a?b=1');
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, `https://shop.example.test:${ing.httpsPort}/a?b=1`);
    assert.equal((await request(http, ing.port, 'blog.example.test', '/x')).body, 'proto=http /x');
  });

  it('serves a certificate given as files, and refuses a name it has none for', async () => {
    const pems = await generate([{ name: 'commonName', value: 'blog.example.test' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'blog.example.test' }] }],
    });
    certs.ensure(new Map([['blog.example.test', { kind: 'file', cert: pems.cert, key: pems.private }]]));
    assert.equal((await request(https, ing.httpsPort!, 'blog.example.test', '/y', pems.cert)).body, 'proto=https /y');
    await assert.rejects(request(https, ing.httpsPort!, 'nobody.example.test', '/', pems.cert));
  });

  it('answers an ACME HTTP-01 challenge on the HTTP port, before any redirect', async () => {
    const other = new HttpIngress({ host: HOST, port: 0, acmeChallenge: (t) => (t === 'tok123' ? 'tok123.thumbprint' : undefined) });
    await other.apply([{ id: 'p/shop', domains: ['shop.example.test'], path: '/', backends: [{ id: 't1', host: HOST, port: backendPort }], tls: true, redirectHttps: true }]);
    try {
      const r = await request(http, other.port, 'shop.example.test', '/.well-known/acme-challenge/tok123');
      assert.equal(r.status, 200);
      assert.equal(r.body, 'tok123.thumbprint');
      assert.equal((await request(http, other.port, 'shop.example.test', '/.well-known/acme-challenge/nope')).status, 308, 'an unknown token is not a challenge');
    } finally {
      await other.close();
    }
  });
});

// Issue 7 end to end: a service with `x-baton: {domain, tls: acme}` gets a
// certificate from a real ACME server (pebble) through a real daemon and is
// served over HTTPS, verified against pebble's root; HTTP redirects to HTTPS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { Sandbox, freePort, waitFor } from '../helpers/baton.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';

const pebble: Pebble = await startPebble();

function get(mod: typeof http | typeof https, port: number, host: string, path: string, ca?: string): Promise<{ status: number; body: string; location?: string }> {
  return new Promise((resolve, reject) => {
    mod.get({ host: '127.0.0.1', port, path, headers: { host }, agent: false, ...(mod === https ? { servername: host, ca } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, location: res.headers.location }));
    }).on('error', reject);
  });
}

describe('HTTPS ingress through the daemon', { skip: pebble.skip }, () => {
  const sb = new Sandbox();
  let httpPort = 0;
  let httpsPort = 0;
  let fileCert = '';
  const env = (): Record<string, string> => ({
    BATON_HTTP_PORT: String(httpPort),
    BATON_HTTPS_PORT: String(httpsPort),
    BATON_ACME_DIRECTORY: pebble.directoryUrl,
    BATON_ACME_CA: join(sb.dir, 'pebble-server.pem'),
  });

  before(async () => {
    httpPort = await freePort();
    httpsPort = await freePort();
    sb.write('pebble-server.pem', pebble.serverCa);
    const pems = await generate([{ name: 'commonName', value: 'files.example.test' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'files.example.test' }] }],
    });
    fileCert = pems.cert;
    writeFileSync(join(sb.dir, 'site.crt'), pems.cert);
    writeFileSync(join(sb.dir, 'site.key'), pems.private);
    sb.write('server.mjs', `import http from 'node:http';
http.createServer((q, s) => s.end(process.env.NAME + ' ' + q.headers['x-forwarded-proto'])).listen(Number(process.env.PORT), '127.0.0.1');`);
    sb.write('compose.yaml', `name: tls${process.pid}
x-baton: {driver: process}
services:
  shop:
    command: [node, server.mjs]
    environment: {NAME: shop}
    x-baton: {domain: shop.example.test, http_port: 8080, tls: acme, redirect_https: true}
  site:
    command: [node, server.mjs]
    environment: {NAME: site}
    x-baton: {domain: files.example.test, http_port: 8080, tls: {cert: ./site.crt, key: ./site.key}}
`);
    await sb.ok(['up', '-d', '--wait'], { env: env() });
  });

  after(async () => {
    await sb.run(['down']);
    await sb.cleanup();
    await pebble.stop();
  });

  it('issues a certificate from the ACME server and serves HTTPS with it', async () => {
    const root = await pebble.root();
    let last = '';
    await waitFor(async () => {
      try {
        const r = await get(https, httpsPort, 'shop.example.test', '/', root);
        last = r.body;
        return r.status === 200;
      } catch (err) {
        last = (err as Error).message;
        return false;
      }
    }, 30_000, 'a certificate from pebble').catch((err: Error) => {
      throw new Error(`${err.message}: ${last}\n${sb.daemonLog().slice(-2000)}`);
    });
    assert.equal(last, 'shop https');
  });

  it('redirects HTTP to HTTPS for a service that asks, and serves a certificate given as files', async () => {
    const r = await get(http, httpPort, 'shop.example.test', '/x');
    assert.equal(r.status, 308);
    assert.equal(r.location, `https://shop.example.test:${httpsPort}/x`);
    assert.equal((await get(https, httpsPort, 'files.example.test', '/', fileCert)).body, 'site https');
    assert.equal((await get(http, httpPort, 'files.example.test', '/')).body, 'site http');
  });
});

// Issue 7: the HTTP ingress end to end: two domains on one port go to two
// services of a real daemon, replicas balanced, a killed replica's traffic
// moves on, and a domain already routed elsewhere is refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Sandbox, freePort, waitFor } from '../helpers/baton.js';

const SERVER = `import http from 'node:http';
http.createServer((req, res) => res.end(process.env.NAME + ' ' + process.env.BATON_SLOT + ' ' + req.url + ' ' + (req.headers['x-forwarded-host'] ?? ''))).listen(Number(process.env.PORT), '127.0.0.1');
`;

function get(port: number, host: string, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('HTTP ingress', () => {
  const sb = new Sandbox();
  let httpPort = 0;
  const env = (): Record<string, string> => ({ BATON_HTTP_PORT: String(httpPort) });

  before(async () => {
    httpPort = await freePort();
    sb.write('server.mjs', SERVER);
    sb.write('compose.yaml', `name: ing${process.pid}
x-baton: {driver: process}
services:
  shop:
    command: [node, server.mjs]
    environment: {NAME: shop}
    expose: ["8080"]
    x-baton: {domain: shop.example.test, http_port: 8080}
    deploy: {replicas: 2}
  blog:
    command: [node, server.mjs]
    environment: {NAME: blog}
    x-baton: {domain: [blog.example.test, "*.blog.example.test"], path: /posts, http_port: 9000}
`);
    await sb.ok(['up', '-d', '--wait'], { env: env() });
  });

  after(async () => {
    await sb.run(['down']);
    await sb.cleanup();
  });

  it('routes by host and path to the right service, balancing its replicas', async () => {
    // Routes follow the tasks within a second of them becoming routable: wait until both replicas are in.
    const slots = new Set<string>();
    await waitFor(async () => {
      const r = await get(httpPort, 'shop.example.test', '/cart').catch(() => ({ status: 0, body: '' }));
      if (r.status === 200) {
        assert.match(r.body, /^shop [12] \/cart shop\.example\.test$/);
        slots.add(r.body.split(' ')[1]);
      }
      return slots.size === 2;
    }, 10_000, 'both replicas to answer through the ingress');
    assert.deepEqual([...slots].sort(), ['1', '2']);
    assert.match((await get(httpPort, 'blog.example.test', '/posts/1')).body, /^blog 1 \/posts\/1/);
    assert.match((await get(httpPort, 'en.blog.example.test', '/posts')).body, /^blog 1 \/posts/);
    assert.equal((await get(httpPort, 'blog.example.test', '/')).status, 404);
    assert.equal((await get(httpPort, 'nobody.example.test', '/')).status, 404);
  });

  it('moves traffic off a killed replica', async () => {
    const rows = JSON.parse(await sb.ok(['ps', '--format', 'json'])) as { service: string; slot: number; pid: number }[];
    const victim = rows.find((r) => r.service === 'shop' && r.slot === 1)!;
    process.kill(victim.pid, 'SIGKILL');
    const failures: number[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await get(httpPort, 'shop.example.test');
      if (r.status !== 200) failures.push(r.status);
    }
    assert.deepEqual(failures, []);
  });

  it('refuses a domain another project already routes, naming it', async () => {
    const other = new Sandbox();
    try {
      other.write('compose.yaml', `name: thief${process.pid}\nx-baton: {driver: process}\nservices:\n  web:\n    command: [sleep, "60"]\n    x-baton: {domain: shop.example.test}\n`);
      const r = await other.run(['up', '-d'], { env: { ...env(), BATON_HOME: sb.home } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`x-baton\\.domain: shop\\.example\\.test/ is already routed to ing${process.pid}/shop`));
    } finally {
      await other.cleanup();
    }
  });
});

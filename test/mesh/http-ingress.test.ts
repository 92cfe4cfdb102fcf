import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { HttpIngress, type HttpRoute } from '../../src/mesh/index.js';

const HOST = '127.0.0.1';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cleanup: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

interface Backend {
  id: string;
  host: string;
  port: number;
  hits: number;
  connections: number;
  last?: http.IncomingHttpHeaders;
}

/** Listens on a free port of HOST; the server and its connections go at cleanup. */
async function listenUntilCleanup(srv: net.Server, socks: Set<net.Socket>): Promise<number> {
  srv.listen(0, HOST);
  await once(srv, 'listening');
  cleanup.push(() => {
    srv.close();
    for (const sock of socks) sock.destroy();
  });
  return (srv.address() as net.AddressInfo).port;
}

/** A real HTTP server answering "<name> <path>", recording what it saw. */
async function backend(name: string): Promise<Backend> {
  const b: Backend = { id: name, host: HOST, port: 0, hits: 0, connections: 0 };
  const srv = http.createServer((req, res) => {
    b.hits++;
    b.last = req.headers;
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => res.end(`${name} ${req.url}${body ? ` ${body}` : ''}`));
  });
  const socks = new Set<net.Socket>();
  srv.on('connection', (sock: net.Socket) => {
    b.connections++;
    socks.add(sock);
  });
  srv.on('upgrade', (req, socket: net.Socket) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\n`);
    socket.on('data', (d: Buffer) => socket.write(`${name}:${d.toString()}`));
  });
  b.port = await listenUntilCleanup(srv, socks);
  return b;
}

async function ingress(routes: HttpRoute[], opts: { headersTimeoutMs?: number; maxConnections?: number } = {}): Promise<HttpIngress> {
  const ing = new HttpIngress({ host: HOST, port: 0, ...opts });
  await ing.apply(routes);
  cleanup.push(() => ing.close());
  return ing;
}

function get(port: number, host: string, path = '/', headers: http.OutgoingHttpHeaders = {}, agent: http.Agent | false = false): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http.get({ host: HOST, port, path, headers: { host, ...headers }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    }).on('error', reject);
  });
}

async function waitUntil(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

const route = (id: string, domains: string[], backends: Backend[], path = '/'): HttpRoute => ({ id, domains, path, backends: backends.map((b) => ({ id: b.id, host: b.host, port: b.port })) });

describe('HTTP ingress', () => {
  it('routes two domains on one port to two services, and says so for an unknown host', async () => {
    const shop = await backend('shop');
    const blog = await backend('blog');
    const ing = await ingress([route('p/shop', ['shop.example.com'], [shop]), route('p/blog', ['blog.example.com'], [blog])]);
    assert.equal((await get(ing.port, 'shop.example.com')).body, 'shop /');
    assert.equal((await get(ing.port, 'BLOG.example.com:8080', '/a?b=1')).body, 'blog /a?b=1');
    const none = await get(ing.port, 'other.example.com');
    assert.equal(none.status, 404);
    assert.match(none.body, /no service is routed for host "other.example.com"/);
  });

  it('matches the longest path prefix on a segment boundary, exact hosts before wildcards', async () => {
    const web = await backend('web');
    const api = await backend('api');
    const wild = await backend('wild');
    const ing = await ingress([route('p/web', ['x.test'], [web]), route('p/api', ['x.test'], [api], '/api'), route('p/wild', ['*.test'], [wild])]);
    assert.equal((await get(ing.port, 'x.test', '/api/users')).body, 'api /api/users');
    assert.equal((await get(ing.port, 'x.test', '/api')).body, 'api /api');
    assert.equal((await get(ing.port, 'x.test', '/apiary')).body, 'web /apiary');
    assert.equal((await get(ing.port, 'y.test', '/api')).body, 'wild /api');
    assert.equal((await get(ing.port, 'test', '/')).status, 404, 'a wildcard needs a label before it');
  });

  it('sets X-Forwarded-* and drops hop-by-hop headers; bodies pass both ways', async () => {
    const b = await backend('b');
    const ing = await ingress([route('p/b', ['h.test'], [b])]);
    await get(ing.port, 'h.test', '/', { 'x-forwarded-for': '10.0.0.1', connection: 'keep-alive, x-secret-hop', 'x-secret-hop': '1', 'keep-alive': 'timeout=5' });
    assert.equal(b.last?.['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
    assert.equal(b.last?.['x-forwarded-proto'], 'http');
    assert.equal(b.last?.['x-forwarded-host'], 'h.test');
    assert.equal(b.last?.['x-forwarded-port'], String(ing.port));
    assert.equal(b.last?.['x-secret-hop'], undefined);
    const posted = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: HOST, port: ing.port, method: 'POST', path: '/form', headers: { host: 'h.test', 'content-type': 'text/plain' }, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end('hello body');
    });
    assert.equal(posted, 'b /form hello body');
  });

  it('keeps upstream connections alive and balances round robin', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const ing = await ingress([route('p/ab', ['ab.test'], [a, b])]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanup.push(() => agent.destroy());
    const seen: string[] = [];
    for (let i = 0; i < 20; i++) seen.push((await get(ing.port, 'ab.test', '/', {}, agent)).body);
    assert.equal(seen.filter((s) => s.startsWith('a ')).length, 10);
    assert.ok(a.connections + b.connections <= 4, `upstream connections are reused (${a.connections + b.connections} for 20 requests)`);
  });

  it('least-connections sends requests to the backend with the fewest in flight', async () => {
    // "busy" holds every request until released; "idle" answers at once.
    let held: http.ServerResponse[] = [];
    let busyHits = 0;
    const busy = http.createServer((_q, res) => {
      busyHits++;
      held.push(res);
    });
    busy.listen(0, HOST);
    await once(busy, 'listening');
    cleanup.push(() => {
      for (const r of held) r.destroy();
      busy.close();
    });
    const idle = await backend('idle');
    const busyB = { id: 'busy', host: HOST, port: (busy.address() as net.AddressInfo).port };
    const routes = (balance?: 'least-connections'): HttpRoute[] => [{ id: 'p/lc', domains: ['lc.test'], path: '/', backends: [busyB, { id: idle.id, host: idle.host, port: idle.port }], ...(balance ? { balance } : {}) }];
    const ing = await ingress(routes('least-connections'));
    const first = get(ing.port, 'lc.test');
    while (busyHits < 1) await sleep(5);
    for (let i = 0; i < 3; i++) assert.match((await get(ing.port, 'lc.test')).body, /^idle /);
    assert.equal(busyHits, 1, 'the busy backend got nothing more while its request was open');
    for (const r of held) r.end('busy');
    held = [];
    assert.equal((await first).body, 'busy');
    // Round robin, for contrast, keeps sending to the busy one.
    await ing.apply(routes());
    const second = get(ing.port, 'lc.test');
    const third = get(ing.port, 'lc.test');
    await waitUntil(() => busyHits >= 2);
    await Promise.race([Promise.all([second, third]), sleep(200)]);
    assert.equal(idle.hits, 4);
    for (const r of held) r.end('busy');
    await Promise.all([second, third]);
  });

  it('skips a backend that refuses, and answers 503 with none', async () => {
    const good = await backend('good');
    const dead = net.createServer();
    dead.listen(0, HOST);
    await once(dead, 'listening');
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const ing = await ingress([
      { id: 'p/x', domains: ['x.test'], path: '/', backends: [{ id: 'dead', host: HOST, port: deadPort }, { id: 'good', host: HOST, port: good.port }] },
      { id: 'p/empty', domains: ['empty.test'], path: '/', backends: [] },
    ]);
    for (let i = 0; i < 4; i++) assert.equal((await get(ing.port, 'x.test')).body, 'good /');
    const none = await get(ing.port, 'empty.test');
    assert.equal(none.status, 503);
    assert.match(none.body, /p\/empty has no healthy task/);
  });

  it('carries a WebSocket upgrade as a byte stream', async () => {
    const ws = await backend('ws');
    const ing = await ingress([route('p/ws', ['ws.test'], [ws])]);
    const s = net.connect(ing.port, HOST);
    await once(s, 'connect');
    s.write('GET /chat HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    while (!got.includes('\r\n\r\n')) await sleep(10);
    assert.match(got, /^HTTP\/1.1 101/);
    got = '';
    s.write('ping');
    while (!got.includes('ws:ping')) await sleep(10);
    s.destroy();
  });

  it('survives malformed requests, slow headers and a flood of connections, serving others meanwhile', async () => {
    const b = await backend('b');
    const ing = await ingress([route('p/b', ['b.test'], [b])], { headersTimeoutMs: 500, maxConnections: 50 });
    // Malformed: a 400 and the connection closed.
    const bad = net.connect(ing.port, HOST);
    await once(bad, 'connect');
    let badReply = '';
    bad.on('data', (d: Buffer) => (badReply += d.toString()));
    bad.write('THIS IS NOT HTTP\r\n\r\n');
    await once(bad, 'close');
    assert.match(badReply, /^HTTP\/1.1 400/);
    // Slowloris: one header byte at a time; others are served meanwhile, and it is cut off.
    const slow = net.connect(ing.port, HOST);
    await once(slow, 'connect');
    slow.on('error', () => undefined);
    let slowClosed = false;
    slow.on('close', () => (slowClosed = true));
    const trickle = setInterval(() => slow.writable && slow.write('X'), 100);
    slow.write('GET / HTTP/1.1\r\nHost: b.test\r\nX-Slow: ');
    assert.equal((await get(ing.port, 'b.test')).status, 200);
    const t0 = Date.now();
    while (!slowClosed && Date.now() - t0 < 3000) await sleep(50);
    clearInterval(trickle);
    assert.ok(slowClosed, `slow headers are cut off (after ${Date.now() - t0} ms)`);
    // Flood: more idle connections than allowed; the ingress stays up and serves once they go.
    const flood: net.Socket[] = [];
    for (let i = 0; i < 80; i++) {
      const c = net.connect(ing.port, HOST);
      c.on('error', () => undefined);
      flood.push(c);
    }
    await sleep(200);
    for (const c of flood) c.destroy();
    await sleep(100);
    assert.equal((await get(ing.port, 'b.test')).body, 'b /');
  });

  it('opens its port with the first route and closes it with the last', async () => {
    const b = await backend('b');
    const ing = new HttpIngress({ host: HOST, port: 0 });
    cleanup.push(() => ing.close());
    await ing.apply([route('p/b', ['b.test'], [b])]);
    const port = ing.port;
    assert.equal((await get(port, 'b.test')).status, 200);
    await ing.apply([]);
    await assert.rejects(get(port, 'b.test'), /ECONNREFUSED/);
  });
});

/** A backend speaking raw bytes: `answer` gets each connection's first request head and writes what it likes. */
async function rawBackend(name: string, answer: (sock: net.Socket, head: string, nth: number) => void): Promise<Backend> {
  const b: Backend = { id: name, host: HOST, port: 0, hits: 0, connections: 0 };
  const socks = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    b.connections++;
    socks.add(sock);
    let buf = '';
    let nth = 0;
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.slice(0, end);
      buf = buf.slice(end + 4);
      b.hits++;
      answer(sock, head, ++nth);
    });
  });
  b.port = await listenUntilCleanup(srv, socks);
  return b;
}

function request(port: number, host: string, opts: { method?: string; path?: string; body?: string[]; agent?: http.Agent | false } = {}): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: { host }, agent: opts.agent ?? false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const part of opts.body ?? []) req.write(part);
    req.end();
  });
}

describe('HTTP ingress towards its backends', () => {
  it('carries chunked answers and chunked request bodies both ways', async () => {
    const srv = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        res.write(`te=${req.headers['transfer-encoding'] ?? '-'} `);
        setTimeout(() => res.end(`got ${body}`), 20);
      });
    });
    srv.listen(0, HOST);
    await once(srv, 'listening');
    cleanup.push(() => srv.close());
    const port = (srv.address() as net.AddressInfo).port;
    const ing = await ingress([{ id: 'p/c', domains: ['c.test'], path: '/', backends: [{ id: 'c', host: HOST, port }] }]);
    const r = await request(ing.port, 'c.test', { method: 'POST', body: ['one ', 'two ', 'three'] });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'te=chunked got one two three');
    assert.equal(r.headers['transfer-encoding'], 'chunked', 'no length known: the client gets chunks too');
  });

  it('answers HEAD with headers only, and streams a large body whole', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 'x');
    const srv = http.createServer((req, res) => {
      res.setHeader('content-length', big.length);
      res.end(req.method === 'HEAD' ? undefined : big);
    });
    srv.listen(0, HOST);
    await once(srv, 'listening');
    cleanup.push(() => srv.close());
    const port = (srv.address() as net.AddressInfo).port;
    const ing = await ingress([{ id: 'p/big', domains: ['big.test'], path: '/', backends: [{ id: 'big', host: HOST, port }] }]);
    const head = await request(ing.port, 'big.test', { method: 'HEAD' });
    assert.equal(head.headers['content-length'], String(big.length));
    assert.equal(head.body.length, 0);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanup.push(() => agent.destroy());
    for (let i = 0; i < 3; i++) assert.equal((await request(ing.port, 'big.test', { agent })).body.length, big.length);
  });

  it('reads to the close from an HTTP/1.0 backend, and opens a new connection after', async () => {
    const b = await rawBackend('old', (sock) => sock.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end'));
    const ing = await ingress([route('p/old', ['old.test'], [b])]);
    for (let i = 0; i < 3; i++) assert.equal((await request(ing.port, 'old.test')).body.toString(), 'until the end');
    assert.equal(b.connections, 3);
  });

  it('sends a request again on a new connection when a kept-alive one was closed by the backend', async () => {
    // Keeps each connection for one answer only, and then drops it the moment the next request arrives on it
    // (no Connection: close): the race every keep-alive proxy meets when a backend closes an idle connection.
    const b = await rawBackend('flaky', (sock, head, nth) => {
      if (nth > 1) return void sock.destroy();
      const path = head.split(' ')[1];
      sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
    });
    const ing = await ingress([route('p/flaky', ['flaky.test'], [b])]);
    for (const path of ['/a', '/bb', '/ccc']) assert.equal((await request(ing.port, 'flaky.test', { path })).body.toString(), path);
    assert.equal(b.hits, 5, 'the 2nd and 3rd request each met a dropped connection first');
    assert.equal(b.connections, 3, 'and then went on a new one');
    // A backend that closes idle connections on its own: the pool lets them go.
    const idle = await rawBackend('idle', (sock) => {
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      setTimeout(() => sock.destroy(), 20);
    });
    const ing2 = await ingress([route('p/idle', ['idle.test'], [idle])]);
    for (let i = 0; i < 3; i++) {
      assert.equal((await request(ing2.port, 'idle.test')).body.toString(), 'ok');
      await sleep(50);
    }
  });

  it('answers 502 for a malformed answer, 504 when the backend is silent past the route timeout, and cuts a body cut short', async () => {
    const junk = await rawBackend('junk', (sock) => sock.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'));
    const silent = await rawBackend('silent', () => {});
    const cut = await rawBackend('cut', (sock) => {
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part');
      setTimeout(() => sock.destroy(), 20);
    });
    const ing = await ingress([
      route('p/junk', ['junk.test'], [junk]),
      { ...route('p/silent', ['silent.test'], [silent]), timeoutMs: 200 },
      route('p/cut', ['cut.test'], [cut]),
    ]);
    const j = await request(ing.port, 'junk.test');
    assert.equal(j.status, 502);
    assert.match(j.body.toString(), /not an HTTP\/1\.x status line/);
    const s = await request(ing.port, 'silent.test');
    assert.equal(s.status, 504);
    await assert.rejects(request(ing.port, 'cut.test'), 'the client sees its answer cut, not a short body as if whole');
    assert.equal((await get(ing.port, 'junk.test')).status, 502, 'and the ingress goes on serving');
  });
});

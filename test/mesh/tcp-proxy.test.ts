import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import dgram from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes, createHash } from 'node:crypto';
import { Mesh, allocatePort, checkPortFree, type MeshOptions, type Route } from '../../src/mesh/index.js';

const HOST = '127.0.0.1';
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function mesh(opts: MeshOptions = {}): Mesh {
  const m = new Mesh({ connectTimeoutMs: 500, ...opts });
  cleanup.push(() => m.close());
  return m;
}

interface HttpBackend {
  name: string;
  port: number;
  server: http.Server;
  hits: number;
  kill(): void;
}

async function httpBackend(name: string, slowMs = 0): Promise<HttpBackend> {
  const b: HttpBackend = {
    name,
    port: 0,
    hits: 0,
    server: http.createServer((_req, res) => {
      b.hits++;
      const reply = (): void => void res.end(name);
      if (slowMs) setTimeout(reply, slowMs);
      else reply();
    }),
    kill() {
      b.server.close();
      b.server.closeAllConnections();
    },
  };
  b.server.listen(0, HOST);
  await once(b.server, 'listening');
  b.port = (b.server.address() as net.AddressInfo).port;
  cleanup.push(() => b.kill());
  return b;
}

/** An HTTP backend in its own process, so that it can really be killed (SIGKILL). */
async function processBackend(name: string): Promise<{ port: number; child: ChildProcess }> {
  const code = `const s=require('http').createServer((q,r)=>r.end(${JSON.stringify(name)}));s.listen(0,'${HOST}',()=>console.log(s.address().port))`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.push(() => void child.kill('SIGKILL'));
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { port: Number(line.toString().trim()), child };
}

async function echoBackend(): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  cleanup.push(() => {
    server.close();
    for (const s of sockets) s.destroy();
  });
  return { port: (server.address() as net.AddressInfo).port, server };
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: HOST, port, agent: false, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
        res.on('error', reject);
      })
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy(new Error('timeout'));
      })
      .on('error', reject);
  });
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: HOST, port, allowHalfOpen: true });
  await once(s, 'connect');
  cleanup.push(() => void s.destroy());
  return s;
}

/** Writes `msg` and reads until `msg.length` bytes came back. */
async function roundTrip(s: net.Socket, msg: string): Promise<string> {
  let got = '';
  const done = new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got.length >= msg.length) {
        s.off('data', onData);
        s.off('error', reject);
        resolve(got);
      }
    };
    s.on('data', onData);
    s.once('error', reject);
  });
  s.write(msg);
  return done;
}

function route(id: string, listenPort: number, backends: { port: number }[], extra: Partial<Route> = {}): Route {
  return {
    id,
    listen: { host: HOST, port: listenPort },
    protocol: 'tcp',
    backends: backends.map((b, i) => ({ id: `${id}.task${i}`, host: HOST, port: b.port })),
    ...extra,
  };
}

describe('Mesh TCP', () => {
  it('round-robins new connections over 3 HTTP backends', async () => {
    const bs = await Promise.all(['a', 'b', 'c'].map((n) => httpBackend(n)));
    const m = mesh();
    const port = await allocatePort();
    const res = await m.apply([route('web', port, bs)]);
    assert.deepEqual(res.errors, []);
    assert.deepEqual(res.opened, ['web']);
    const seen: string[] = [];
    for (let i = 0; i < 9; i++) seen.push(await get(port));
    assert.deepEqual(seen, ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
    await sleep(30); // the last pair closes just after the response
    assert.deepEqual(m.connections('web'), { 'web.task0': 0, 'web.task1': 0, 'web.task2': 0 });
  });

  it('loses no request out of 200 while one of 3 backends is killed midway (SIGKILL)', async () => {
    const bs = await Promise.all(['a', 'b', 'c'].map((n) => processBackend(n)));
    const logs: string[] = [];
    const m = mesh({ log: (s) => logs.push(s) });
    const port = await allocatePort();
    await m.apply([route('web', port, bs)]);
    const answers: string[] = [];
    for (let i = 0; i < 200; i++) {
      if (i === 100) {
        bs[1].child.kill('SIGKILL');
        await once(bs[1].child, 'exit');
      }
      answers.push(await get(port)); // any failure rejects and fails the test
    }
    assert.equal(answers.length, 200);
    assert.ok(answers.slice(0, 100).includes('b'));
    assert.ok(!answers.slice(100).includes('b'), 'no answer from the killed backend');
    assert.ok(answers.slice(100).includes('a') && answers.slice(100).includes('c'));
    const st = m.snapshot().find((r) => r.id === 'web')!;
    assert.equal(st.backends[1].suspect, true, 'the dead backend is suspect');
    assert.ok(logs.some((l) => l.includes('web.task1') && l.includes('refused')), logs.join('\n'));
  });

  it('loses no request under concurrency while a backend is closed, and with a dead backend listed', async () => {
    const a = await httpBackend('a');
    const b = await httpBackend('b');
    const dead = { port: await allocatePort() }; // nothing listens there
    const m = mesh();
    const port = await allocatePort();
    await m.apply([route('web', port, [a, dead, b])]);
    let done = 0;
    const worker = async (): Promise<string[]> => {
      const out: string[] = [];
      while (done < 300) {
        done++;
        if (done === 150) a.kill();
        out.push(await get(port));
      }
      return out;
    };
    const all = (await Promise.all([worker(), worker(), worker(), worker()])).flat();
    assert.ok(all.length >= 300);
    assert.ok(all.every((x) => x === 'a' || x === 'b'));
  });

  it('swaps backends in place without dropping an open connection, which drains', async () => {
    const e1 = await echoBackend();
    const e2 = await echoBackend();
    const m = mesh();
    const port = await allocatePort();
    await m.apply([route('svc', port, [e1])]);
    const held = await connect(port);
    assert.equal(await roundTrip(held, 'before'), 'before');
    assert.deepEqual(m.connections('svc'), { 'svc.task0': 1 });

    const res = await m.apply([{ ...route('svc', port, [e2]), backends: [{ id: 'new', host: HOST, port: e2.port }] }]);
    assert.deepEqual(res, { errors: [], opened: [], closed: [] });
    // The old connection still works, through the old backend.
    assert.equal(await roundTrip(held, 'after the swap'), 'after the swap');
    assert.deepEqual(m.connections('svc'), { new: 0, 'svc.task0': 1 });
    const st = m.snapshot().find((r) => r.id === 'svc')!;
    assert.deepEqual(st.draining, [{ id: 'svc.task0', host: HOST, port: e1.port, connections: 1 }]);
    // A new connection goes to the new backend.
    const fresh = await connect(port);
    assert.equal(await roundTrip(fresh, 'x'), 'x');
    assert.deepEqual(m.connections('svc'), { new: 1, 'svc.task0': 1 });
    // When the drained connection ends, it is forgotten.
    held.end();
    await once(held, 'close');
    await sleep(20);
    assert.deepEqual(m.connections('svc'), { new: 1 });
    assert.deepEqual(m.snapshot().find((r) => r.id === 'svc')!.draining, []);
  });

  it('removing a route frees its port but leaves its established connections to finish', async () => {
    const e = await echoBackend();
    const m = mesh();
    const port = await allocatePort();
    await m.apply([route('svc', port, [e])]);
    const held = await connect(port);
    assert.equal(await roundTrip(held, 'one'), 'one');
    const res = await m.apply([]);
    assert.deepEqual(res.closed, ['svc']);
    assert.equal(await checkPortFree(HOST, port, 'tcp'), true);
    assert.equal(await roundTrip(held, 'two'), 'two');
    assert.deepEqual(m.snapshot(), []);
  });

  it('reports EADDRINUSE in the result, naming the address, opens the other routes, and retries later', async () => {
    const blocker = net.createServer();
    blocker.listen(0, HOST);
    await once(blocker, 'listening');
    const taken = (blocker.address() as net.AddressInfo).port;
    const free = await allocatePort();
    const e = await echoBackend();
    const m = mesh();
    const routes = [route('busy', taken, [e]), route('ok', free, [e])];
    const res = await m.apply(routes);
    assert.equal(res.errors.length, 1);
    assert.equal(res.errors[0].routeId, 'busy');
    assert.equal(res.errors[0].code, 'EADDRINUSE');
    assert.match(res.errors[0].message, new RegExp(`127\\.0\\.0\\.1:${taken}/tcp.*address already in use \\(EADDRINUSE\\)`));
    assert.deepEqual(res.opened, ['ok']);
    const busy = m.snapshot().find((r) => r.id === 'busy')!;
    assert.equal(busy.listening, false);
    assert.match(busy.error ?? '', /EADDRINUSE/);
    // Once the port is free, the next apply opens it.
    await new Promise<void>((r) => blocker.close(() => r()));
    const again = await m.apply(routes);
    assert.deepEqual(again.errors, []);
    assert.deepEqual(again.opened, ['busy']);
    assert.equal(await roundTrip(await connect(taken), 'hi'), 'hi');
  });

  it('close() frees every port (TCP and UDP) and cuts open connections', async () => {
    const e = await echoBackend();
    const m = mesh();
    const tport = await allocatePort();
    const uport = await allocatePort();
    await m.apply([
      route('t', tport, [e]),
      { id: 'u', listen: { host: HOST, port: uport }, protocol: 'udp', backends: [] },
    ]);
    assert.equal(await checkPortFree(HOST, tport, 'tcp'), false);
    assert.equal(await checkPortFree(HOST, uport, 'udp'), false);
    const held = await connect(tport);
    assert.equal(await roundTrip(held, 'x'), 'x');
    const ended = once(held, 'end');
    await m.close(); // does not wait for the open connection
    await ended;
    assert.equal(await checkPortFree(HOST, tport, 'tcp'), true);
    assert.equal(await checkPortFree(HOST, uport, 'udp'), true);
    assert.deepEqual(m.snapshot(), []);
  });

  it('least-connections sends new connections to the least busy backend', async () => {
    const e1 = await echoBackend();
    const e2 = await echoBackend();
    const e3 = await echoBackend();
    const m = mesh();
    const port = await allocatePort();
    await m.apply([route('lc', port, [e1, e2, e3], { balance: 'least-connections' })]);
    const held: net.Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await connect(port);
      assert.equal(await roundTrip(s, 'x'), 'x');
      held.push(s);
    }
    assert.deepEqual(m.connections('lc'), { 'lc.task0': 1, 'lc.task1': 1, 'lc.task2': 1 });
    held[1].destroy();
    await sleep(30);
    assert.deepEqual(m.connections('lc'), { 'lc.task0': 1, 'lc.task1': 0, 'lc.task2': 1 });
    // Round robin would go to task0 next; least-connections fills task1 first.
    const next = await connect(port);
    assert.equal(await roundTrip(next, 'y'), 'y');
    assert.deepEqual(m.connections('lc'), { 'lc.task0': 1, 'lc.task1': 1, 'lc.task2': 1 });
  });

  it('holds a connection while the route has no backend, and serves it when one appears', async () => {
    const m = mesh();
    const port = await allocatePort();
    await m.apply([route('web', port, [])]);
    const t0 = Date.now();
    const pending = get(port);
    await sleep(300);
    const late = await httpBackend('late');
    await m.apply([route('web', port, [late])]);
    assert.equal(await pending, 'late');
    assert.ok(Date.now() - t0 < 1000);
  });

  it('closes a held connection after holdMs when no backend appears', async () => {
    const m = mesh({ holdMs: 200 });
    const port = await allocatePort();
    await m.apply([route('web', port, [])]);
    const t0 = Date.now();
    await assert.rejects(get(port));
    const waited = Date.now() - t0;
    assert.ok(waited >= 180 && waited < 1000, `waited ${waited} ms`);
  });

  it('carries large transfers intact with backpressure, and half-close both ways', async () => {
    // A backend that reads everything, then answers with a digest and a copy, then closes.
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => {
        const all = Buffer.concat(chunks);
        s.write(createHash('sha256').update(all).digest('hex'));
        s.end(all);
      });
    });
    server.listen(0, HOST);
    await once(server, 'listening');
    cleanup.push(() => void server.close());
    const m = mesh();
    const port = await allocatePort();
    await m.apply([route('big', port, [{ port: (server.address() as net.AddressInfo).port }])]);
    const payload = randomBytes(8 * 1024 * 1024);
    const s = await connect(port);
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.end(payload); // half-close: the answer comes only after the backend saw our end
    await once(s, 'end');
    const all = Buffer.concat(got);
    assert.equal(all.subarray(0, 64).toString(), createHash('sha256').update(payload).digest('hex'));
    assert.ok(all.subarray(64).equals(payload));
    await sleep(20);
    assert.deepEqual(m.connections('big'), { 'big.task0': 0 });
  });

  it('does not replay a finished request to another backend when the first closes without answering', async () => {
    let received = 0;
    const mk = async (): Promise<number> => {
      const srv = net.createServer({ allowHalfOpen: true }, (s) => {
        s.on('data', () => undefined);
        s.on('end', () => {
          received++;
          s.end(); // takes the message, answers nothing
        });
      });
      srv.listen(0, HOST);
      await once(srv, 'listening');
      cleanup.push(() => void srv.close());
      return (srv.address() as net.AddressInfo).port;
    };
    const ports = [await mk(), await mk()];
    const m = mesh();
    const port = await allocatePort();
    await m.apply([route('sink', port, ports.map((p) => ({ port: p })))]);
    const s = await connect(port);
    s.end('fire and forget');
    s.resume();
    await once(s, 'close');
    await sleep(50);
    assert.equal(received, 1);
  });

  it('passes an idle close through without trying another backend or suspecting this one', async () => {
    let accepted = 0;
    const mk = async (): Promise<number> => {
      const srv = net.createServer((s) => {
        accepted++;
        setTimeout(() => s.end(), 1200); // an idle timeout: closes a connection that sent nothing (for over a second)
      });
      srv.listen(0, HOST);
      await once(srv, 'listening');
      cleanup.push(() => void srv.close());
      return (srv.address() as net.AddressInfo).port;
    };
    const ports = [await mk(), await mk()];
    const m = mesh();
    const port = await allocatePort();
    await m.apply([route('idle', port, ports.map((p) => ({ port: p })))]);
    const s = await connect(port);
    s.resume();
    await once(s, 'end');
    assert.equal(accepted, 1);
    assert.ok(m.snapshot()[0].backends.every((b) => !b.suspect));
  });

  it('tries the next backend when one closes a connection at once, before the request arrived', async () => {
    // A backend killed just as a client connected: its socket closes with nothing said either way.
    const dead = net.createServer((s) => s.end());
    dead.listen(0, HOST);
    await once(dead, 'listening');
    cleanup.push(() => void dead.close());
    const good = await httpBackend('good');
    const m = mesh();
    const port = await allocatePort();
    await m.apply([route('web', port, [{ port: (dead.address() as net.AddressInfo).port }, good])]);
    for (let i = 0; i < 4; i++) {
      const s = await connect(port);
      await sleep(30); // the request leaves after the dead backend has already closed
      s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      let body = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => (body += d));
      s.on('error', () => undefined);
      await Promise.race([once(s, 'close'), sleep(5000)]);
      assert.match(body, /good$/);
    }
  });

  it('replays the request when a backend resets before answering', async () => {
    const dying = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    dying.listen(0, HOST);
    await once(dying, 'listening');
    cleanup.push(() => void dying.close());
    const good = await httpBackend('good');
    const m = mesh();
    const port = await allocatePort();
    await m.apply([route('web', port, [{ port: (dying.address() as net.AddressInfo).port }, good])]);
    for (let i = 0; i < 6; i++) assert.equal(await get(port), 'good');
    assert.equal(good.hits, 6);
  });
});

describe('Mesh sources', () => {
  it('lets in only peers inside a route\'s sources, over TCP and UDP, and follows a change of them', async () => {
    const b = await httpBackend('b');
    const m = mesh();
    const port = await allocatePort();
    await m.apply([route('only-lan', port, [b], { sources: ['10.99.0.0/16'] })]);
    await assert.rejects(get(port), 'a peer on 127.0.0.1 is closed at once');
    assert.equal(b.hits, 0);
    await m.apply([route('only-lan', port, [b], { sources: ['10.99.0.0/16', '127.0.0.0/8'] })]);
    assert.equal(await get(port), 'b');
    // UDP: a datagram from outside the sources never reaches the backend.
    const echo = dgram.createSocket('udp4');
    let got = 0;
    echo.on('message', (msg, r) => {
      got++;
      echo.send(msg, r.port, r.address);
    });
    echo.bind(0, HOST);
    await once(echo, 'listening');
    cleanup.push(() => void echo.close());
    const uport = await allocatePort();
    const udp = (sources: string[]): Route => ({ ...route('u', uport, [{ port: (echo.address() as net.AddressInfo).port }]), protocol: 'udp', sources });
    await m.apply([udp(['10.99.0.0/16'])]);
    const c = dgram.createSocket('udp4');
    cleanup.push(() => void c.close());
    c.send('x', uport, HOST);
    await sleep(200);
    assert.equal(got, 0);
    await m.apply([udp(['127.0.0.1/32'])]);
    const reply = once(c, 'message');
    c.send('y', uport, HOST);
    assert.equal(String(((await reply) as [Buffer])[0]), 'y');
  });
});

describe('Mesh UDP', () => {
  async function udpEcho(tag: string): Promise<{ port: number; peers: Set<string> }> {
    const sock = dgram.createSocket('udp4');
    const peers = new Set<string>();
    sock.on('message', (msg, r) => {
      peers.add(`${r.address}:${r.port}`);
      sock.send(Buffer.concat([Buffer.from(`${tag}:`), msg]), r.port, r.address);
    });
    sock.bind(0, HOST);
    await once(sock, 'listening');
    cleanup.push(() => new Promise<void>((r) => sock.close(() => r())));
    return { port: sock.address().port, peers };
  }

  async function udpClient(): Promise<{ ask(port: number, msg: string): Promise<string> }> {
    const c = dgram.createSocket('udp4');
    c.bind(0, HOST);
    await once(c, 'listening');
    cleanup.push(() => new Promise<void>((r) => c.close(() => r())));
    return {
      ask: (port, msg) => {
        const reply = new Promise<string>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no udp reply')), 2000);
          c.once('message', (m) => {
            clearTimeout(t);
            resolve(m.toString());
          });
        });
        c.send(msg, port, HOST);
        return reply;
      },
    };
  }

  it('round-trips datagrams, one sticky session per client, round-robin across clients', async () => {
    const a = await udpEcho('a');
    const b = await udpEcho('b');
    const m = mesh();
    const port = await allocatePort();
    const res = await m.apply([
      {
        id: 'dns',
        listen: { host: HOST, port },
        protocol: 'udp',
        backends: [
          { id: 'ta', host: HOST, port: a.port },
          { id: 'tb', host: HOST, port: b.port },
        ],
      },
    ]);
    assert.deepEqual(res.errors, []);
    const c1 = await udpClient();
    const c2 = await udpClient();
    assert.equal(await c1.ask(port, 'hi'), 'a:hi');
    assert.equal(await c1.ask(port, 'again'), 'a:again'); // same session, same backend
    assert.equal(await c2.ask(port, 'yo'), 'b:yo');
    assert.deepEqual(m.connections('dns'), { ta: 1, tb: 1 });
  });

  it('expires idle sessions and re-balances when a session backend leaves the route', async () => {
    const a = await udpEcho('a');
    const b = await udpEcho('b');
    const m = mesh({ udpIdleMs: 150 });
    const port = await allocatePort();
    const r = (backends: { id: string; port: number }[]): Route => ({
      id: 'u',
      listen: { host: HOST, port },
      protocol: 'udp',
      backends: backends.map((x) => ({ id: x.id, host: HOST, port: x.port })),
    });
    await m.apply([r([{ id: 'ta', port: a.port }])]);
    const c = await udpClient();
    assert.equal(await c.ask(port, '1'), 'a:1');
    assert.deepEqual(m.connections('u'), { ta: 1 });
    await sleep(400);
    assert.deepEqual(m.connections('u'), { ta: 0 });
    assert.equal(await c.ask(port, '2'), 'a:2');
    await m.apply([r([{ id: 'tb', port: b.port }])]);
    assert.equal(await c.ask(port, '3'), 'b:3');
    assert.deepEqual(m.connections('u'), { tb: 1 });
  });
});

describe('ports', () => {
  it('allocatePort gives a free port; checkPortFree tells a bound one', async () => {
    const p = await allocatePort();
    assert.ok(p > 0 && p < 65536);
    assert.equal(await checkPortFree(HOST, p, 'tcp'), true);
    const srv = net.createServer();
    srv.listen(p, HOST);
    await once(srv, 'listening');
    assert.equal(await checkPortFree(HOST, p, 'tcp'), false);
    await new Promise<void>((r) => srv.close(() => r()));
    const u = dgram.createSocket('udp4');
    u.bind(0, HOST);
    await once(u, 'listening');
    assert.equal(await checkPortFree(HOST, u.address().port, 'udp'), false);
    await new Promise<void>((r) => u.close(() => r()));
  });
});

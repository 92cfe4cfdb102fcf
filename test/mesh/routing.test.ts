import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import dgram from 'node:dgram';
import { Mesh, allocatePort, checkPortFree, type Route } from '../../src/mesh/index.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function backend(name: string, opts: { slowMs?: number } = {}): Promise<{ port: number; server: http.Server }> {
  const server = http.createServer((_req, res) => {
    const reply = (): void => void res.end(name);
    if (opts.slowMs) setTimeout(reply, opts.slowMs);
    else reply();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return { port: (server.address() as net.AddressInfo).port, server };
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

async function mesh(): Promise<Mesh> {
  const m = new Mesh({ connectTimeoutMs: 500 });
  closers.push(() => m.close());
  return m;
}

const route = (listenPort: number, backends: { port: number }[], extra: Partial<Route> = {}): Route => ({
  id: 'r',
  listen: { host: '127.0.0.1', port: listenPort },
  protocol: 'tcp',
  backends: backends.map((b, i) => ({ id: `b${i}`, host: '127.0.0.1', port: b.port })),
  ...extra,
});

describe('mesh TCP routing', () => {
  it('round-robins connections over the backends', async () => {
    const bs = await Promise.all(['a', 'b', 'c'].map((n) => backend(n)));
    const m = await mesh();
    const port = await allocatePort();
    assert.deepEqual((await m.apply([route(port, bs)])).errors, []);
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(await get(port));
    assert.deepEqual([...new Set(seen)].sort(), ['a', 'b', 'c']);
    assert.equal(seen.filter((s) => s === 'a').length, 2);
  });

  it('fails over when a backend is gone, with no failed request', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const deadPort = await allocatePort(); // nothing listens here
    const m = await mesh();
    const port = await allocatePort();
    await m.apply([route(port, [a, { port: deadPort }, b])]);
    const answers: string[] = [];
    for (let i = 0; i < 100; i++) {
      if (i === 50) {
        a.server.closeAllConnections();
        a.server.close();
      }
      answers.push(await get(port));
    }
    assert.equal(answers.length, 100);
    assert.ok(answers.slice(60).every((x) => x === 'b'));
  });

  it('replays the request to another backend when one dies before answering', async () => {
    // A backend that accepts and reads, then dies without a byte: as a process killed mid-request.
    const dying = net.createServer((s) => s.once('data', () => s.destroy()));
    await new Promise<void>((r) => dying.listen(0, '127.0.0.1', () => r()));
    closers.push(() => void dying.close());
    const good = await backend('good');
    const m = await mesh();
    const port = await allocatePort();
    await m.apply([route(port, [{ port: (dying.address() as net.AddressInfo).port }, good])]);
    for (let i = 0; i < 10; i++) assert.equal(await get(port), 'good');
  });

  it('swapping backends keeps an open connection; new ones go to the new backend', async () => {
    const a = await backend('a', { slowMs: 300 });
    const b = await backend('b');
    const m = await mesh();
    const port = await allocatePort();
    await m.apply([route(port, [a])]);
    const pending = get(port);
    await new Promise((r) => setTimeout(r, 50));
    await m.apply([route(port, [b])]);
    assert.equal(await get(port), 'b');
    assert.equal(await pending, 'a');
  });

  it('reports a port in use instead of throwing, and close frees ports', async () => {
    const m = await mesh();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as net.AddressInfo).port;
    const res = await m.apply([route(taken, [])]);
    assert.equal(res.errors.length, 1);
    assert.match(res.errors[0].message, new RegExp(`127.0.0.1:${taken}.*EADDRINUSE`));
    blocker.close();
    const port = await allocatePort();
    await m.apply([route(port, [])]);
    assert.equal(await checkPortFree('127.0.0.1', port, 'tcp'), false);
    await m.close();
    assert.equal(await checkPortFree('127.0.0.1', port, 'tcp'), true);
  });

  it('holds a connection while there is no backend, and serves it when one appears', async () => {
    const m = await mesh();
    const port = await allocatePort();
    await m.apply([route(port, [])]);
    const pending = get(port);
    await new Promise((r) => setTimeout(r, 200));
    const a = await backend('late');
    await m.apply([route(port, [a])]);
    assert.equal(await pending, 'late');
  });

  it('least-connections prefers the idle backend', async () => {
    const busy = await backend('busy', { slowMs: 400 });
    const idle = await backend('idle');
    const m = await mesh();
    const port = await allocatePort();
    await m.apply([route(port, [busy, idle], { balance: 'least-connections' })]);
    const first = get(port); // both idle: the first in order, busy, takes it and holds it 400ms
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(m.connections('r'), { b0: 1, b1: 0 });
    for (let i = 0; i < 3; i++) {
      assert.equal(await get(port), 'idle');
      // The finished connection is released a moment after its response ends.
      while (m.connections('r').b1 !== 0) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(await first, 'busy');
  });
});

describe('mesh UDP routing', () => {
  it('forwards datagrams and carries replies back', async () => {
    const echo = dgram.createSocket('udp4');
    echo.on('message', (msg, r) => echo.send(Buffer.concat([Buffer.from('echo:'), msg]), r.port, r.address));
    await new Promise<void>((r) => echo.bind(0, '127.0.0.1', () => r()));
    closers.push(() => new Promise<void>((r) => echo.close(() => r())));
    const m = await mesh();
    const port = await allocatePort();
    await m.apply([{ id: 'u', listen: { host: '127.0.0.1', port }, protocol: 'udp', backends: [{ id: 'e', host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port }] }]);
    const client = dgram.createSocket('udp4');
    closers.push(() => new Promise<void>((r) => client.close(() => r())));
    const reply = new Promise<string>((r) => client.once('message', (msg) => r(msg.toString())));
    client.send('hi', port, '127.0.0.1');
    assert.equal(await reply, 'echo:hi');
  });
});

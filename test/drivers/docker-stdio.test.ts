// The framed protocol of attached exec/run (model/stdio.ts), both ends over a
// real socket pair, with a scripted session in place of the engine.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FRAME, FrameError, FrameReader, MAX_FRAME, dataFrames, exitFrame, frame, readExit, readSize, serveStdio, sizeFrame, stdioChannel, validSize, StdioClosedError, type StdioSession, type TermSize } from '../../src/model/stdio.js';

/** Two connected sockets; with allowHalfOpen the server's side stays open when the client ends, as an HTTP server's. */
async function pair(allowHalfOpen = false): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer({ allowHalfOpen });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect(port, '127.0.0.1');
  const serverSide = await accepted;
  server.close();
  return [client, serverSide];
}

/** A session that records what it is given and ends when told. */
function scripted(): { session: StdioSession; input: Buffer[]; ended: () => boolean; sizes: TermSize[]; closed: () => boolean; finish: (code: number | null) => void } {
  const input: Buffer[] = [];
  const sizes: TermSize[] = [];
  let ended = false;
  let closed = false;
  let finish: (code: number | null) => void = () => {};
  const done = new Promise<number | null>((r) => (finish = r));
  return {
    session: { write: (d) => input.push(Buffer.from(d)), end: () => (ended = true), resize: (s) => sizes.push(s), done, close: () => (closed = true) },
    input,
    ended: () => ended,
    sizes,
    closed: () => closed,
    finish: (c) => finish(c),
  };
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond());
};

describe('attached exec/run protocol', () => {
  it('reads frames cut anywhere and several in one chunk; refuses oversized ones', () => {
    const got: string[] = [];
    const reader = new FrameReader((k, p) => got.push(`${k}:${p.toString()}`));
    const bytes = Buffer.concat([frame(FRAME.stdout, Buffer.from('hello')), frame(FRAME.stderr, Buffer.from('oops')), frame(FRAME.stdinEnd)]);
    for (let i = 0; i < bytes.length; i++) reader.push(bytes.subarray(i, i + 1));
    reader.push(Buffer.concat([frame(FRAME.stdout, Buffer.from('a')), frame(FRAME.stdout, Buffer.from('b'))]));
    assert.deepEqual(got, ['1:hello', '2:oops', '4:', '1:a', '1:b']);
    const huge = Buffer.alloc(5);
    huge.writeUInt32BE(MAX_FRAME + 1, 1);
    assert.throws(() => new FrameReader(() => {}).push(huge), FrameError);
    assert.equal(dataFrames(FRAME.stdin, Buffer.alloc(MAX_FRAME * 2 + 1)).length, 3);
  });

  it('carries sizes and exit codes', () => {
    const size = sizeFrame({ cols: 132, rows: 41 });
    assert.deepEqual(readSize(size.subarray(5)), { cols: 132, rows: 41 });
    assert.equal(readSize(Buffer.alloc(3)), undefined);
    assert.equal(readExit(exitFrame(7).subarray(5)), 7);
    assert.equal(readExit(exitFrame(null).subarray(5)), null);
    assert.equal(readExit(Buffer.from('nope')), null);
    assert.ok(validSize({ cols: 80, rows: 24 }));
    for (const bad of [undefined, null, {}, { cols: 0, rows: 1 }, { cols: 1.5, rows: 2 }, { cols: 70000, rows: 2 }, 'x']) assert.ok(!validSize(bad), JSON.stringify(bad));
  });

  it('serves a session: input sent before it started is kept, output and the exit code come back', async () => {
    const [client, server] = await pair();
    const s = scripted();
    const out: string[] = [];
    const channel = stdioChannel(client, Buffer.alloc(0), (stream, d) => out.push(`${stream}:${d.toString()}`));
    // Sent before the server has even started the command.
    channel.write(Buffer.from('typed early'));
    channel.resize({ cols: 100, rows: 30 });
    let startedWith: ((stream: 'stdout' | 'stderr', data: Buffer) => void) | undefined;
    const served = serveStdio(server, Buffer.alloc(0), async (onOutput) => {
      await new Promise((r) => setTimeout(r, 50));
      startedWith = onOutput;
      return s.session;
    }, { code: 126, prefix: 'exec failed' });
    await until(() => s.input.length === 1);
    assert.equal(s.input[0].toString(), 'typed early');
    assert.deepEqual(s.sizes, [{ cols: 100, rows: 30 }]);
    channel.end();
    await until(() => s.ended());
    startedWith!('stdout', Buffer.from('out'));
    startedWith!('stderr', Buffer.from('err'));
    s.finish(3);
    assert.equal(await channel.done, 3);
    await served;
    assert.deepEqual(out, ['stdout:out', 'stderr:err']);
    assert.ok(!s.closed(), 'a session that ended is not closed again');
  });

  it('a command that cannot start ends with its error on stderr and the failure code', async () => {
    const [client, server] = await pair();
    const out: string[] = [];
    const channel = stdioChannel(client, Buffer.alloc(0), (stream, d) => out.push(`${stream}:${d.toString()}`));
    await serveStdio(server, Buffer.alloc(0), async () => {
      throw new Error('no such user: nobody2');
    }, { code: 126, prefix: 'exec failed' });
    assert.equal(await channel.done, 126);
    assert.deepEqual(out, ['stderr:exec failed: no such user: nobody2\n']);
  });

  it('a client that only half-closes has left too (an HTTP server keeps half-open sockets)', async () => {
    const [client, server] = await pair(true);
    const s = scripted();
    const served = serveStdio(server, Buffer.alloc(0), async () => s.session, { code: 126, prefix: 'exec failed' });
    await new Promise((r) => setTimeout(r, 50));
    client.end();
    await until(() => s.closed());
    s.finish(null);
    await served;
  });

  it('the client leaving closes the session; a connection that breaks is an error, not an exit code', async () => {
    const [client, server] = await pair();
    const s = scripted();
    const channel = stdioChannel(client, Buffer.alloc(0), () => {});
    const served = serveStdio(server, Buffer.alloc(0), async () => s.session, { code: 126, prefix: 'exec failed' });
    await new Promise((r) => setTimeout(r, 50));
    channel.close();
    await until(() => s.closed());
    s.finish(null);
    await served;
    await assert.rejects(channel.done, StdioClosedError);
  });
});

describe('terminal resizes towards the engine', () => {
  it('go one at a time, the newest size winning, so the last one the terminal had is the one left', async () => {
    const { latestOnly } = await import('../../src/drivers/docker/driver.js');
    const sent: string[] = [];
    let inFlight = 0;
    let most = 0;
    const resize = latestOnly(async (s: TermSize) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 30));
      sent.push(`${s.rows}x${s.cols}`);
      inFlight--;
    });
    resize({ rows: 20, cols: 90 });
    resize({ rows: 20, cols: 101 });
    resize({ rows: 33, cols: 101 });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(most, 1, 'never two at once');
    assert.deepEqual(sent, ['20x90', '33x101'], 'the one overtaken while waiting is skipped; the newest goes last');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseReader, UpstreamProtocolError, type UpstreamHead } from '../../src/mesh/upstream.js';

/** Feeds a response in pieces of `step` bytes and records what the reader made of it. */
function read(text: string, opts: { head?: boolean; step?: number; eof?: boolean } = {}): { head?: UpstreamHead; body: string; ended: boolean; reusable: boolean } {
  const out: { head?: UpstreamHead; body: string; ended: boolean; reusable: boolean } = { body: '', ended: false, reusable: true };
  const r = new ResponseReader(opts.head ?? false, {
    head: (h) => (out.head = h),
    body: (c) => (out.body += c.toString('latin1')),
    end: () => (out.ended = true),
  });
  const bytes = Buffer.from(text, 'latin1');
  const step = opts.step ?? bytes.length;
  for (let i = 0; i < bytes.length; i += step) r.push(bytes.subarray(i, i + step));
  if (opts.eof) r.eof();
  out.reusable = r.reusable;
  return out;
}

describe('upstream response reader', () => {
  it('reads a Content-Length answer, in any split, and keeps the connection', () => {
    for (const step of [1, 3, 1000]) {
      const r = read('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello', { step });
      assert.equal(r.head?.status, 200);
      assert.equal(r.head?.statusText, 'OK');
      assert.deepEqual(r.head?.raw, ['Content-Type', 'text/plain', 'Content-Length', '5']);
      assert.equal(r.body, 'hello');
      assert.ok(r.ended && r.reusable);
    }
  });

  it('undoes chunks (extensions and trailers too) byte by byte', () => {
    const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: t\r\n\r\n';
    for (const step of [1, 7, 1000]) {
      const r = read(text, { step });
      assert.equal(r.body, 'hello, world!!!');
      assert.ok(r.ended && r.reusable);
    }
  });

  it('has no body for HEAD, 204 and 304, whatever Content-Length says', () => {
    assert.ok(read('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', { head: true }).ended);
    assert.ok(read('HTTP/1.1 204 No Content\r\n\r\n').ended);
    assert.ok(read('HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n').ended);
  });

  it('skips 1xx answers to the final one', () => {
    const r = read('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok');
    assert.equal(r.head?.status, 201);
    assert.equal(r.body, 'ok');
  });

  it('reads to the close without a length, and then the connection is spent', () => {
    const r = read('HTTP/1.0 200 OK\r\n\r\nall of it', { eof: true });
    assert.equal(r.body, 'all of it');
    assert.ok(r.ended);
    assert.equal(r.reusable, false);
  });

  it('does not keep a connection the backend closes, or one with bytes past the answer', () => {
    assert.equal(read('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').reusable, false);
    assert.equal(read('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy').reusable, false);
    assert.equal(read('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').reusable, true);
  });

  it('refuses malformed answers instead of guessing', () => {
    const bad = [
      'SSH-2.0-OpenSSH\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      'HTTP/1.1 200 OK\r\n folded: header\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY',
      `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70_000)}`,
    ];
    for (const text of bad) assert.throws(() => read(text), UpstreamProtocolError, text.slice(0, 40));
    assert.throws(() => read('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort', { eof: true }), /closed the connection before/);
  });
});

/**
 * The ingress's side towards its backends: kept-alive connections per
 * backend and one HTTP/1.1 exchange at a time over each. Node's
 * `http.request` builds a ClientRequest, an agent slot and a parser object
 * for every request, which cost the ingress more than half its time; here a
 * request is one head written on a pooled socket and the answer is read by a
 * small reader that only needs to find where the response ends (its head,
 * then Content-Length bytes, chunks, or the close).
 */
import net from 'node:net';

export interface UpstreamHead {
  status: number;
  statusText: string;
  /** Raw header names and values, alternating, as received (hop-by-hop ones included). */
  raw: string[];
}

/** A malformed or oversized answer from a backend. */
export class UpstreamProtocolError extends Error {
  readonly code = 'EUPSTREAMPROTO';
}

const MAX_HEAD = 64 * 1024;
const CRLF2 = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

type BodyMode = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };

/**
 * Reads one response from the bytes a backend sends: `onHead` once with the
 * final (non-1xx) head, `onBody` with each piece of the body as it comes
 * (de-chunked), then `onEnd`. `reusable` says whether the connection may carry
 * another request afterwards.
 */
export class ResponseReader {
  private buf: Buffer | undefined;
  private state: 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'done' = 'head';
  private mode: BodyMode = { kind: 'none' };
  private chunkLeft = 0;
  reusable = true;

  constructor(
    private readonly headRequest: boolean,
    private readonly on: { head(h: UpstreamHead): void; body(chunk: Buffer): void; end(): void },
  ) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /** Feeds bytes; throws UpstreamProtocolError on a malformed answer. Bytes past the end make the connection not reusable. */
  push(data: Buffer): void {
    this.buf = this.buf && this.buf.length > 0 ? Buffer.concat([this.buf, data]) : data;
    while (this.buf.length > 0 && this.state !== 'done') {
      if (!this.step()) break;
    }
    if (this.state === 'done' && this.buf.length > 0) this.reusable = false;
  }

  /** The backend closed its side: the end of a read-until-close body, or a cut answer. */
  eof(): void {
    if (this.state === 'body' && this.mode.kind === 'close') {
      this.finish();
      return;
    }
    if (this.state !== 'done') throw new UpstreamProtocolError('the backend closed the connection before its answer was complete');
  }

  /** One step of the state machine; false when it needs more bytes. */
  private step(): boolean {
    const buf = this.buf!;
    switch (this.state) {
      case 'head': {
        const end = buf.indexOf(CRLF2);
        if (end < 0) {
          if (buf.length > MAX_HEAD) throw new UpstreamProtocolError('the response head is too large');
          return false;
        }
        this.buf = buf.subarray(end + 4);
        this.parseHead(buf.toString('latin1', 0, end));
        return true;
      }
      case 'body': {
        if (this.mode.kind === 'length') {
          const take = Math.min(this.mode.left, buf.length);
          this.mode.left -= take;
          this.buf = buf.subarray(take);
          this.on.body(buf.subarray(0, take));
          if (this.mode.left === 0) this.finish();
        } else {
          this.buf = buf.subarray(buf.length);
          this.on.body(buf);
        }
        return true;
      }
      case 'chunk-size': {
        const end = buf.indexOf(CRLF);
        if (end < 0) {
          if (buf.length > 4096) throw new UpstreamProtocolError('a chunk size line is too long');
          return false;
        }
        const line = buf.toString('latin1', 0, end);
        const hex = line.split(';')[0].trim();
        if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new UpstreamProtocolError(`bad chunk size "${line.slice(0, 40)}"`);
        this.chunkLeft = parseInt(hex, 16);
        this.buf = buf.subarray(end + 2);
        this.state = this.chunkLeft === 0 ? 'trailers' : 'chunk-data';
        return true;
      }
      case 'chunk-data': {
        const take = Math.min(this.chunkLeft, buf.length);
        this.chunkLeft -= take;
        this.buf = buf.subarray(take);
        this.on.body(buf.subarray(0, take));
        if (this.chunkLeft === 0) this.state = 'chunk-crlf';
        return true;
      }
      case 'chunk-crlf': {
        if (buf.length < 2) return false;
        if (buf[0] !== 13 || buf[1] !== 10) throw new UpstreamProtocolError('a chunk does not end with CRLF');
        this.buf = buf.subarray(2);
        this.state = 'chunk-size';
        return true;
      }
      case 'trailers': {
        // Trailers are dropped (they are rare and hop-by-hop here); the body ends at the empty line.
        const end = buf.indexOf(CRLF);
        if (end < 0) {
          if (buf.length > MAX_HEAD) throw new UpstreamProtocolError('the trailers are too large');
          return false;
        }
        this.buf = buf.subarray(end + 2);
        if (end === 0) this.finish();
        return true;
      }
      default:
        return false;
    }
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
    if (!m) throw new UpstreamProtocolError(`not an HTTP/1.x status line: "${lines[0].slice(0, 60)}"`);
    const status = Number(m[2]);
    const raw: string[] = [];
    let length: number | undefined;
    let chunked = false;
    let close = m[1] === '0';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      if (colon <= 0 || line[0] === ' ' || line[0] === '\t') throw new UpstreamProtocolError(`a malformed header line: "${line.slice(0, 60)}"`);
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      const lower = name.toLowerCase();
      if (lower === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) throw new UpstreamProtocolError(`a bad Content-Length "${value}"`);
        length = Number(value);
      } else if (lower === 'transfer-encoding') {
        chunked = /(^|,)\s*chunked\s*$/i.test(value);
        if (!chunked) close = true; // another coding last: the body runs to the close
      } else if (lower === 'connection') {
        const tokens = value.toLowerCase().split(',').map((s) => s.trim());
        if (tokens.includes('close')) close = true;
        if (m[1] === '0' && tokens.includes('keep-alive')) close = false;
      }
      raw.push(name, value);
    }
    // 1xx (100 Continue, 103 Early Hints): informational, the real answer follows on the same connection.
    if (status >= 100 && status < 200) return;
    // Both framings at once is how responses get smuggled: refused rather than guessed (RFC 9112 6.3).
    if (chunked && length !== undefined) throw new UpstreamProtocolError('both Content-Length and Transfer-Encoding: chunked');
    if (close) this.reusable = false;
    if (this.headRequest || status === 204 || status === 304) this.mode = { kind: 'none' };
    else if (chunked) this.mode = { kind: 'chunked' };
    else if (length !== undefined) this.mode = { kind: 'length', left: length };
    else {
      this.mode = { kind: 'close' };
      this.reusable = false;
    }
    this.on.head({ status, statusText: m[3] ?? '', raw });
    if (this.mode.kind === 'none' || (this.mode.kind === 'length' && this.mode.left === 0)) this.finish();
    else this.state = this.mode.kind === 'chunked' ? 'chunk-size' : 'body';
  }

  private finish(): void {
    this.state = 'done';
    this.on.end();
  }
}

interface Idle {
  socket: net.Socket;
  timer: NodeJS.Timeout;
  /** The pool's own listener while idle, taken off again when the socket goes back to work. */
  drop: () => void;
}

/** Kept-alive connections to backends, by host:port. */
export class UpstreamPool {
  private readonly idle = new Map<string, Idle[]>();

  constructor(private readonly opts: { maxIdlePerBackend?: number; idleTimeoutMs?: number } = {}) {}

  /** A connection to the backend: an idle one (reused: it may turn out closed) or a new one. */
  acquire(host: string, port: number): { socket: net.Socket; reused: boolean } {
    const key = `${host}:${port}`;
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const i = list.pop()!;
      clearTimeout(i.timer);
      i.socket.off('close', i.drop);
      i.socket.off('error', i.drop);
      i.socket.off('data', i.drop);
      if (!i.socket.destroyed && i.socket.readyState === 'open') return { socket: i.socket, reused: true };
      i.socket.destroy();
    }
    const socket = net.connect({ host, port, noDelay: true });
    return { socket, reused: false };
  }

  /** Puts a connection that finished an exchange cleanly back for the next request. */
  release(host: string, port: number, socket: net.Socket): void {
    const key = `${host}:${port}`;
    const list = this.idle.get(key) ?? [];
    if (list.length >= (this.opts.maxIdlePerBackend ?? 64) || socket.destroyed) {
      socket.destroy();
      return;
    }
    socket.setTimeout(0);
    const drop = (): void => {
      clearTimeout(entry.timer);
      const l = this.idle.get(key);
      const at = l?.indexOf(entry) ?? -1;
      if (l && at >= 0) l.splice(at, 1);
      socket.destroy();
    };
    const entry: Idle = { socket, timer: setTimeout(drop, this.opts.idleTimeoutMs ?? 4_000), drop };
    entry.timer.unref();
    socket.on('close', drop);
    socket.on('error', drop);
    // Nothing may arrive between two exchanges: bytes now would be read as the next answer.
    socket.on('data', drop);
    list.push(entry);
    this.idle.set(key, list);
  }

  destroy(): void {
    for (const list of this.idle.values()) {
      for (const i of list) {
        clearTimeout(i.timer);
        i.socket.destroy();
      }
    }
    this.idle.clear();
  }
}

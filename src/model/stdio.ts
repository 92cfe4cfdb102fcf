// The attached exec/run connection: after an HTTP/1.1 upgrade (as Docker's API
// hijacks the connection for attach), one socket carries the command's input,
// the client's terminal size and the command's output both ways, in frames.
// Frames rather than raw bytes so stdout and stderr stay apart without a TTY,
// stdin's end does not need a TCP half-close (which TLS makes awkward), and
// the exit code comes back on the same connection. Both the API (CLI ↔
// daemon) and a node's own port (manager ↔ agent) speak it, hence here.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** The value of the Upgrade header both sides use. */
export const STDIO_PROTOCOL = 'baton-stdio/1';

/** Frame kinds, both ways: a 1-byte kind, a 4-byte big-endian length, the payload. */
export const FRAME = {
  /** client → server: bytes for the command's stdin. */
  stdin: 0,
  /** server → client: the command's output (everything, with a TTY). */
  stdout: 1,
  stderr: 2,
  /** server → client, last: JSON `{ "exitCode": number | null }`. */
  exit: 3,
  /** client → server: stdin has ended. */
  stdinEnd: 4,
  /** client → server: the terminal's size, two 16-bit big-endian numbers (columns, rows). */
  resize: 5,
} as const;

export type FrameKind = (typeof FRAME)[keyof typeof FRAME];

const HEADER = 5;
/** Writers cut their data below this; a reader refuses more (a peer that does not speak this protocol). */
export const MAX_FRAME = 1024 * 1024;

export interface TermSize {
  cols: number;
  rows: number;
}

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

export function frame(kind: FrameKind, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(HEADER);
  head[0] = kind;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Data cut into frames no larger than MAX_FRAME. */
export function dataFrames(kind: FrameKind, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += MAX_FRAME) out.push(frame(kind, data.subarray(i, i + MAX_FRAME)));
  return out;
}

export function sizeFrame(size: TermSize): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(clampSize(size.cols), 0);
  b.writeUInt16BE(clampSize(size.rows), 2);
  return frame(FRAME.resize, b);
}

export function readSize(payload: Buffer): TermSize | undefined {
  if (payload.length !== 4) return undefined;
  const size = { cols: payload.readUInt16BE(0), rows: payload.readUInt16BE(2) };
  return size.cols > 0 && size.rows > 0 ? size : undefined;
}

export function exitFrame(exitCode: number | null): Buffer {
  return frame(FRAME.exit, Buffer.from(JSON.stringify({ exitCode })));
}

export function readExit(payload: Buffer): number | null {
  try {
    const v = (JSON.parse(payload.toString('utf8')) as { exitCode?: unknown }).exitCode;
    return typeof v === 'number' ? v : null;
  } catch {
    return null;
  }
}

/** Whether a size someone sent is one a terminal can have. */
export function validSize(size: unknown): size is TermSize {
  const s = size as TermSize | undefined;
  return typeof s === 'object' && s !== null && [s.cols, s.rows].every((n) => Number.isInteger(n) && n > 0 && n <= 0xffff);
}

function clampSize(n: number): number {
  return Math.max(1, Math.min(0xffff, Math.floor(n) || 1));
}

/** Splits a byte stream into frames, which may arrive cut anywhere or several in one chunk. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (kind: number, payload: Buffer) => void) {}

  /** Throws FrameError on a frame larger than MAX_FRAME. */
  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= HEADER) {
      const size = this.buf.readUInt32BE(1);
      if (size > MAX_FRAME) throw new FrameError(`a frame of ${size} bytes: the peer does not speak ${STDIO_PROTOCOL}`);
      if (this.buf.length < HEADER + size) break;
      const kind = this.buf[0];
      const payload = this.buf.subarray(HEADER, HEADER + size);
      this.buf = this.buf.subarray(HEADER + size);
      this.onFrame(kind, payload);
    }
  }
}

/**
 * A command attached to a client (exec or run with stdin and/or a TTY): what
 * the client sends goes in through it; its output goes to the callback given
 * when it started.
 */
export interface StdioSession {
  /** Bytes for the command's stdin (ignored when stdin is not attached). */
  write(data: Buffer): void;
  /** stdin has ended. */
  end(): void;
  resize(size: TermSize): void;
  /** The exit code, once the command has ended and its output has all been delivered; null when it was cut off. */
  readonly done: Promise<number | null>;
  /** The client went away: exec's stream is closed (a TTY's shell gets a hangup), a one-off container is stopped. */
  close(): void;
}

export type StdioOutput = (stream: 'stdout' | 'stderr', data: Buffer) => void;

/** A session's exit code once it has ended; aborting `signal` closes it (a one-off container is stopped). */
export async function sessionDone(session: Pick<StdioSession, 'done' | 'close'>, signal: AbortSignal): Promise<number | null> {
  const stop = (): void => session.close();
  if (signal.aborted) stop();
  signal.addEventListener('abort', stop, { once: true });
  try {
    return await session.done;
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

/**
 * Serves one attached command on an upgraded socket: starts it, hands it the
 * client's input frames (those that came before it started are kept, not
 * lost), sends its output, and last its exit code. A command that cannot start
 * ends with its error on stderr and `failure.code` (126 for exec, 125 for run,
 * as Docker's). The client going away closes the session.
 */
export async function serveStdio(socket: Duplex, pending: Buffer, start: (onOutput: StdioOutput) => Promise<StdioSession>, failure: { code: number; prefix: string }): Promise<void> {
  let session: StdioSession | undefined;
  let finished = false;
  let gone = false;
  const queued: [number, Buffer][] = [];
  const send = (b: Buffer): void => {
    if (!socket.destroyed && socket.writable) socket.write(b);
  };
  const deliver = (kind: number, payload: Buffer): void => {
    if (!session) {
      queued.push([kind, Buffer.from(payload)]);
      return;
    }
    if (kind === FRAME.stdin) session.write(payload);
    else if (kind === FRAME.stdinEnd) session.end();
    else if (kind === FRAME.resize) {
      const size = readSize(payload);
      if (size) session.resize(size);
    }
  };
  const reader = new FrameReader(deliver);
  const onData = (d: Buffer): void => {
    try {
      reader.push(d);
    } catch {
      socket.destroy();
    }
  };
  socket.on('data', onData);
  // The client never half-closes (stdin's end is a frame): its end means it left. An HTTP server's sockets
  // allow half-open connections, so 'close' alone would not come.
  const leave = (): void => {
    if (gone) return;
    gone = true;
    if (session && !finished) session.close();
    socket.destroy();
  };
  socket.once('end', leave);
  socket.once('close', leave);
  if (pending.length > 0) onData(pending);
  let code: number | null;
  try {
    session = await start((stream, data) => {
      for (const f of dataFrames(stream === 'stderr' ? FRAME.stderr : FRAME.stdout, data)) send(f);
    });
    if (gone) session.close();
    for (const [k, p] of queued.splice(0)) deliver(k, p);
    code = await session.done;
  } catch (err) {
    send(frame(FRAME.stderr, Buffer.from(`${failure.prefix}: ${(err as Error).message}\n`)));
    code = failure.code;
  }
  finished = true;
  send(exitFrame(code));
  socket.end();
}

/** The 101 answer that switches a request to this protocol. */
export function switchProtocols(socket: Duplex): void {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${STDIO_PROTOCOL}\r\n\r\n`);
}

/** The peer, on the client side: the session's frames on an upgraded socket (`head`: what came with the 101). */
export function stdioChannel(socket: Duplex, head: Buffer, onOutput: StdioOutput): StdioSession {
  let code: number | null | undefined;
  const send = (b: Buffer): void => {
    if (!socket.destroyed && socket.writable) socket.write(b);
  };
  const done = new Promise<number | null>((resolve, reject) => {
    const reader = new FrameReader((kind, payload) => {
      if (kind === FRAME.stdout) onOutput('stdout', payload);
      else if (kind === FRAME.stderr) onOutput('stderr', payload);
      else if (kind === FRAME.exit) code = readExit(payload);
    });
    const take = (d: Buffer): void => {
      try {
        reader.push(d);
      } catch (err) {
        socket.destroy(err as Error);
      }
    };
    socket.on('data', take);
    socket.on('error', () => {});
    socket.once('close', () => (code === undefined ? reject(new StdioClosedError('the connection closed before the command ended')) : resolve(code)));
    if (head.length > 0) take(head);
  });
  // A caller that only closes never reads done: its rejection is not a crash.
  done.catch(() => {});
  return {
    write: (data) => {
      for (const f of dataFrames(FRAME.stdin, data)) send(f);
    },
    end: () => send(frame(FRAME.stdinEnd)),
    resize: (size) => send(sizeFrame(size)),
    done,
    close: () => socket.destroy(),
  };
}

/** The connection broke during an attached exec/run. */
export class StdioClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StdioClosedError';
  }
}

/** The body of an upgrade request could not be read: an HTTP status and why. */
export class UpgradeBodyError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'UpgradeBodyError';
  }
}

/**
 * The JSON body of an upgrade request: Node hands the upgrade over right after
 * the headers, so the body is read off the socket (as much as Content-Length
 * says); what follows it belongs to the upgraded protocol (`rest`).
 */
export function readUpgradeBody(req: IncomingMessage, socket: Duplex, head: Buffer, opts: { max: number; timeoutMs: number }): Promise<{ body: unknown; rest: Buffer }> {
  const length = Number(req.headers['content-length'] ?? 0);
  if (!Number.isInteger(length) || length < 0) return Promise.reject(new UpgradeBodyError(400, 'content-length: expected a number of bytes'));
  if (length > opts.max) return Promise.reject(new UpgradeBodyError(413, `request body over ${opts.max} bytes`));
  return new Promise((resolve, reject) => {
    let buf = head;
    const finish = (err?: UpgradeBodyError): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onClose);
      socket.off('close', onClose);
      if (err) return reject(err);
      const text = buf.subarray(0, length).toString('utf8');
      const rest = Buffer.from(buf.subarray(length));
      try {
        resolve({ body: text.trim() ? (JSON.parse(text) as unknown) : {}, rest });
      } catch {
        reject(new UpgradeBodyError(400, 'request body is not valid JSON'));
      }
    };
    const timer = setTimeout(() => finish(new UpgradeBodyError(408, 'the request body did not arrive')), opts.timeoutMs);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= length) finish();
    };
    const onClose = (): void => finish(new UpgradeBodyError(400, 'the connection closed before the request body arrived'));
    if (buf.length >= length) return finish();
    socket.on('data', onData);
    socket.on('end', onClose);
    socket.on('close', onClose);
  });
}

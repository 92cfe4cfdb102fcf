// An agent's own port, for its managers only: what lives on this node and
// nowhere else (task logs, stats, processes, exec). Mutual TLS; the caller
// must hold a manager certificate of this node's cluster.
import https from 'node:https';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Driver } from '../drivers/driver.js';
import { STDIO_PROTOCOL, readUpgradeBody, serveStdio, switchProtocols, validSize } from '../model/stdio.js';

export interface NodeServerOptions {
  drivers: Map<string, Driver>;
  cert: string;
  key: string;
  ca: string;
  clusterId: string;
  log?: (m: string) => void;
}

class NodeApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const MAX_BODY = 1024 * 1024;

export class NodeServer {
  private server: https.Server | undefined;
  private readonly upgraded = new Set<Duplex>();

  constructor(private readonly opts: NodeServerOptions) {}

  /** Listens on `port` (0: any free one); resolves with the port. */
  listen(host: string, port: number): Promise<number> {
    const server = https.createServer({ cert: this.opts.cert, key: this.opts.key, ca: this.opts.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (req, res) => void this.dispatch(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as { port: number }).port));
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    for (const u of this.upgraded) u.destroy();
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }

  private checkManager(req: IncomingMessage): void {
    const subject = (req.socket as TLSSocket).getPeerCertificate().subject;
    const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
    if (first(subject?.OU) !== 'manager' || first(subject?.O) !== this.opts.clusterId) throw new NodeApiError(403, 'only a manager of this cluster may call a node');
  }

  /** exec with stdin and/or a TTY, for a manager relaying `baton exec` (the same protocol as the API's). */
  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    let opened = false;
    try {
      this.checkManager(req);
      const url = new URL(req.url ?? '/', 'https://node');
      const m = /^\/v1\/node\/tasks\/([^/]+)\/exec$/.exec(url.pathname);
      if (!m || req.method !== 'POST') throw new NodeApiError(404, `no upgrade at ${req.method} ${url.pathname}`);
      if (String(req.headers.upgrade ?? '').toLowerCase() !== STDIO_PROTOCOL) throw new NodeApiError(400, `this node speaks ${STDIO_PROTOCOL}`);
      const driver = this.opts.drivers.get(url.searchParams.get('driver') ?? '');
      if (!driver) throw new NodeApiError(400, `driver "${url.searchParams.get('driver')}" is not on this node`);
      if (!driver.execAttached) throw new NodeApiError(400, `exec needs a container; this task runs on the ${driver.name} driver`);
      const { body, rest } = await readUpgradeBody(req, socket, head, { max: MAX_BODY, timeoutMs: 30_000 });
      const b = body as ExecBody & { tty?: unknown; stdin?: unknown; size?: unknown };
      if (!Array.isArray(b.argv) || b.argv.length === 0) throw new NodeApiError(400, 'argv: expected a command');
      const size = validSize(b.size) ? b.size : undefined;
      const taskId = decodeURIComponent(m[1]);
      opened = true;
      switchProtocols(socket);
      const io = { env: b.env, user: b.user, workingDir: b.workdir, tty: b.tty === true, stdin: b.stdin === true, size };
      await serveStdio(socket, rest, (onOutput) => driver.execAttached!(taskId, b.argv!, io, onOutput), { code: 126, prefix: 'exec failed' });
    } catch (err) {
      if (opened) return void socket.destroy();
      const status = err instanceof NodeApiError ? err.status : ((err as { status?: number }).status ?? 500);
      const text = JSON.stringify({ error: { message: (err as Error).message } });
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
    }
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      this.checkManager(req);
      const url = new URL(req.url ?? '/', 'https://node');
      // `down` on the manager: this node's networks of the project (and named volumes with -v) go too.
      const removal = /^\/v1\/node\/projects\/([^/]+)\/remove$/.exec(url.pathname);
      if (removal && req.method === 'POST') {
        const project = decodeURIComponent(removal[1]);
        const volumes = url.searchParams.get('volumes') === 'true';
        for (const d of this.opts.drivers.values()) await d.removeProject?.(project, { volumes });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}\n');
        return;
      }
      const m = /^\/v1\/node\/tasks\/([^/]+)\/(logs|stats|top|exec)$/.exec(url.pathname);
      if (!m) throw new NodeApiError(404, `no route ${req.method} ${url.pathname}`);
      const taskId = decodeURIComponent(m[1]);
      const driver = this.opts.drivers.get(url.searchParams.get('driver') ?? '');
      if (!driver) throw new NodeApiError(400, `driver "${url.searchParams.get('driver')}" is not on this node`);
      const ac = new AbortController();
      res.on('close', () => ac.abort());
      switch (m[2]) {
        case 'logs': {
          const tail = url.searchParams.get('tail');
          stream(res);
          await driver.logs(taskId, { follow: url.searchParams.get('follow') === 'true', ...(tail !== null ? { tail: Number(tail) } : {}), signal: ac.signal }, (l) => write(res, l));
          res.end();
          return;
        }
        case 'stats':
          return json(res, 200, { stats: (await driver.stats?.(taskId)) ?? null });
        case 'top':
          return json(res, 200, { top: (await driver.top?.(taskId)) ?? null });
        case 'exec': {
          if (req.method !== 'POST') throw new NodeApiError(405, 'exec is a POST');
          if (!driver.execStream) throw new NodeApiError(400, `exec needs a container; this task runs on the ${driver.name} driver`);
          const body = await readBody(req);
          if (!Array.isArray(body.argv) || body.argv.length === 0) throw new NodeApiError(400, 'argv: expected a command');
          stream(res);
          const code = await driver.execStream(taskId, body.argv, { env: body.env, user: body.user, workingDir: body.workdir, signal: ac.signal }, (s, data) => write(res, { stream: s, data: data.toString('base64') }));
          write(res, { exitCode: code });
          res.end();
          return;
        }
      }
    } catch (err) {
      const status = err instanceof NodeApiError ? err.status : 500;
      if (status === 500) this.opts.log?.(`node API: ${(err as Error).message}`);
      if (!res.headersSent) json(res, status, { error: { message: (err as Error).message } });
      else res.end();
    }
  }
}

interface ExecBody {
  argv?: string[];
  env?: string[];
  user?: string;
  workdir?: string;
}

async function readBody(req: IncomingMessage): Promise<ExecBody> {
  let text = '';
  for await (const c of req as AsyncIterable<Buffer>) {
    text += c.toString('utf8');
    if (text.length > MAX_BODY) throw new NodeApiError(413, 'request too large');
  }
  try {
    return (text ? JSON.parse(text) : {}) as ExecBody;
  } catch {
    throw new NodeApiError(400, 'request body is not JSON');
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function stream(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  res.flushHeaders();
}

function write(res: ServerResponse, obj: unknown): void {
  if (!res.destroyed) res.write(JSON.stringify(obj) + '\n');
}

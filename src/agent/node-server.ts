// An agent's own port, for its managers only: what lives on this node and
// nowhere else (task logs, stats, processes, exec), and the one-off containers
// (`baton run`) a manager without an engine starts here. Mutual TLS; the
// caller must hold a manager certificate of this node's cluster.
import https from 'node:https';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { AttachOptions, AttachedSession, Driver } from '../drivers/driver.js';
import type { Project, Service } from '../model/types.js';
import { STDIO_PROTOCOL, readUpgradeBody, serveStdio, switchProtocols, validSize, type StdioOutput } from '../model/stdio.js';
import type { NodeRunBody, RunOnceRequest } from '../model/one-off.js';

export interface NodeServerOptions {
  drivers: Map<string, Driver>;
  /** Starts a one-off container of a service on this node (the agent's runAttached). */
  runAttached?(svc: Service, req: RunOnceRequest, io: AttachOptions, onOutput: StdioOutput, project?: Project): Promise<AttachedSession>;
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

  /** exec with stdin and/or a TTY, and one-off containers, for a manager relaying `baton exec` and `baton run` (the same protocol as the API's). */
  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    let opened = false;
    try {
      this.checkManager(req);
      const url = new URL(req.url ?? '/', 'https://node');
      if (String(req.headers.upgrade ?? '').toLowerCase() !== STDIO_PROTOCOL) throw new NodeApiError(400, `this node speaks ${STDIO_PROTOCOL}`);
      if (url.pathname === '/v1/node/run' && req.method === 'POST') {
        const run = this.opts.runAttached;
        if (!run) throw new NodeApiError(400, 'this node cannot run one-off containers');
        const { body, rest } = await readUpgradeBody(req, socket, head, { max: MAX_BODY, timeoutMs: 30_000 });
        const b = runBody(body);
        opened = true;
        switchProtocols(socket);
        const io = { tty: b.tty === true, stdin: b.stdin === true, ...(validSize(b.size) ? { size: b.size } : {}) };
        await serveStdio(socket, rest, (onOutput) => run(b.service, b.run, io, onOutput, b.project), { code: 125, prefix: 'run failed' });
        return;
      }
      const m = /^\/v1\/node\/tasks\/([^/]+)\/exec$/.exec(url.pathname);
      if (!m || req.method !== 'POST') throw new NodeApiError(404, `no upgrade at ${req.method} ${url.pathname}`);
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
      const m = /^\/v1\/node\/tasks\/([^/]+)\/(logs|stats|top|exec|signal|pause|unpause)$/.exec(url.pathname);
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
        case 'pause':
        case 'unpause': {
          if (req.method !== 'POST') throw new NodeApiError(405, `${m[2]} is a POST`);
          const act = m[2] === 'pause' ? driver.pause : driver.unpause;
          if (!act) throw new NodeApiError(400, `the ${driver.name} driver cannot ${m[2]} a task`);
          try {
            await act.call(driver, taskId);
          } catch (err) {
            throw new NodeApiError(409, (err as Error).message);
          }
          return json(res, 200, {});
        }
        case 'signal': {
          if (req.method !== 'POST') throw new NodeApiError(405, 'signal is a POST');
          if (!driver.signal) throw new NodeApiError(400, `the ${driver.name} driver cannot signal a task`);
          try {
            await driver.signal(taskId, url.searchParams.get('signal') ?? 'SIGKILL');
          } catch (err) {
            throw new NodeApiError(409, (err as Error).message);
          }
          return json(res, 200, {});
        }
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

/** The checks a relayed run's body must pass: the manager sent it, but a bad one says so rather than crash. */
function runBody(body: unknown): NodeRunBody {
  const b = body as Partial<NodeRunBody> | null;
  const s = b?.service;
  if (!s || typeof s !== 'object' || typeof s.name !== 'string' || typeof s.project !== 'string' || typeof s.driver !== 'string' || typeof s.spec !== 'object') throw new NodeApiError(400, 'service: expected the service record');
  if (b.project !== undefined && (typeof b.project !== 'object' || b.project === null || b.project.name !== s.project)) throw new NodeApiError(400, 'project: expected the service\'s project record');
  const r = b.run;
  if (!r || typeof r !== 'object') throw new NodeApiError(400, 'run: expected what to run');
  for (const k of ['argv', 'entrypoint', 'env'] as const) {
    const v = r[k];
    if (v !== undefined && (!Array.isArray(v) || !v.every((a) => typeof a === 'string'))) throw new NodeApiError(400, `run.${k}: expected a list of strings`);
  }
  return b as NodeRunBody;
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

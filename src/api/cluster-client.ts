// How a node talks to its manager: HTTPS with the node's certificate, the
// manager verified against the cluster CA and required to be a manager (OU).
import https from 'node:https';
import type { PeerCertificate } from 'node:tls';
import type { ClusterView, EventInput, NodeInfo, TaskFileRef, TaskReport } from '../model/types.js';
import type { RegistryAuth } from '../model/image-ref.js';
import type { JoinAnswer, JoinRequest } from './cluster-server.js';
import type { Duplex } from 'node:stream';
import { STDIO_PROTOCOL, stdioChannel, type StdioOutput, type StdioSession, type TermSize } from '../model/stdio.js';
import { parseHostPort } from '../model/address.js';
import type { NodeRunBody } from '../model/one-off.js';

/** The manager answered with an error (status and message), or could not be reached (status 0). */
export class ClusterRequestError extends Error {
  constructor(readonly status: number, message: string, readonly code = '') {
    super(message);
    this.name = 'ClusterRequestError';
  }
}

export interface ClusterClientOptions {
  /** host:port of a manager's node port. */
  manager: string;
  ca: string;
  cert?: string;
  key?: string;
}

export class ClusterClient {
  private readonly agent: https.Agent;

  constructor(private readonly opts: ClusterClientOptions) {
    this.agent = new https.Agent({
      keepAlive: true,
      ca: opts.ca,
      ...(opts.cert && opts.key ? { cert: opts.cert, key: opts.key } : {}),
      // Managers are named by the CA, not by DNS: any certificate of this cluster's CA with OU=manager.
      checkServerIdentity: (_host: string, cert: PeerCertificate) => (first(cert.subject?.OU) === 'manager' ? undefined : new Error('the server is not a manager of this cluster')),
    });
  }

  close(): void {
    this.agent.destroy();
  }

  join(req: JoinRequest): Promise<JoinAnswer> {
    return this.call('POST', '/v1/cluster/join', req);
  }

  register(node: NodeInfo): Promise<{ nodeId: string }> {
    return this.call('POST', '/v1/cluster/register', { node });
  }

  async heartbeat(): Promise<void> {
    await this.call('POST', '/v1/cluster/heartbeat', {});
  }

  view(after: number, waitMs: number, signal?: AbortSignal): Promise<ClusterView> {
    return this.call('GET', `/v1/cluster/view?after=${after}&wait=${waitMs}`, undefined, signal, waitMs + 15_000);
  }

  async report(reports: TaskReport[]): Promise<void> {
    await this.call('POST', '/v1/cluster/report', { reports });
  }

  async event(e: EventInput): Promise<void> {
    await this.call('POST', '/v1/cluster/event', e);
  }

  /** Registry credentials a deploy of the project sent, for the registry of this image (only to a node that runs the project). */
  async registryAuth(project: string, image: string): Promise<RegistryAuth | undefined> {
    const r = await this.call<{ auth?: RegistryAuth }>('POST', '/v1/cluster/registry-auth', { project, image });
    return r.auth;
  }

  async files(serviceId: string): Promise<{ ref: TaskFileRef; content: Buffer }[]> {
    const r = await this.call<{ files: { ref: TaskFileRef; content: string }[] }>('POST', '/v1/cluster/files', { service: serviceId });
    return r.files.map((f) => ({ ref: f.ref, content: Buffer.from(f.content, 'base64') }));
  }

  /**
   * An image a service uses, as a `docker save` tar from the manager's engine
   * (where `build:` images are built); undefined when the manager has none.
   */
  image(name: string): Promise<NodeJS.ReadableStream | undefined> {
    const [host, port] = splitHostPort(this.opts.manager);
    return new Promise((resolve, reject) => {
      const req = https.request({ host, port, method: 'GET', path: `/v1/cluster/image?name=${encodeURIComponent(name)}`, agent: this.agent, timeout: 60_000 }, (res) => {
        if (res.statusCode === 200) return resolve(res);
        res.resume();
        if (res.statusCode === 404) resolve(undefined);
        else reject(new ClusterRequestError(res.statusCode ?? 0, `manager ${this.opts.manager}: image ${name}: HTTP ${res.statusCode}`));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => reject(new ClusterRequestError(0, `manager ${this.opts.manager} unreachable: ${err.message}`)));
      req.end();
    });
  }

  private call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal, timeoutMs = 15_000): Promise<T> {
    const [host, port] = splitHostPort(this.opts.manager);
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = https.request(
        { host, port, method, path, agent: this.agent, signal, timeout: timeoutMs, headers: text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = raw ? JSON.parse(raw) : {};
            } catch {
              return reject(new ClusterRequestError(res.statusCode ?? 0, `manager ${this.opts.manager}: not a JSON answer (${raw.slice(0, 100)})`));
            }
            if ((res.statusCode ?? 500) >= 400) {
              const e = (parsed as { error?: { message?: string; code?: string } }).error;
              return reject(new ClusterRequestError(res.statusCode ?? 500, e?.message ?? `HTTP ${res.statusCode}`, e?.code));
            }
            resolve(parsed as T);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => reject(err instanceof ClusterRequestError ? err : new ClusterRequestError(0, `manager ${this.opts.manager} unreachable: ${err.message}`)));
      req.end(text);
    });
  }
}

/** Fetches the CA a manager presents, unverified: the caller checks it against the token's fingerprint. */
export function fetchCa(manager: string): Promise<string> {
  const [host, port] = splitHostPort(manager);
  return new Promise((resolve, reject) => {
    const req = https.request({ host, port, path: '/v1/cluster/ca', rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { ca: string }).ca);
        } catch {
          reject(new ClusterRequestError(res.statusCode ?? 0, `${manager} is not a baton manager's node port`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(new ClusterRequestError(0, `manager ${manager} unreachable: ${err.message}`)));
    req.end();
  });
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function splitHostPort(s: string): [string, number] {
  const hp = parseHostPort(s);
  if (!hp || !hp.host) throw new ClusterRequestError(0, `expected HOST:PORT, got "${s}"`);
  return [hp.host, hp.port];
}

/** A manager's calls to a node's own port (task logs, stats, top, exec on that node). */
export class NodeClient {
  private readonly agent: https.Agent;

  constructor(opts: { ca: string; cert: string; key: string }) {
    this.agent = new https.Agent({
      keepAlive: true,
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      // Nodes are named by their certificates (CN = node id), not DNS.
      checkServerIdentity: () => undefined,
    });
  }

  close(): void {
    this.agent.destroy();
  }

  async logs(at: NodeAddress, task: TaskRef, opts: { tail?: number; follow?: boolean; signal: AbortSignal }, onLine: (l: { time: string; stream: 'stdout' | 'stderr'; line: string }) => void): Promise<void> {
    const q = new URLSearchParams({ driver: task.driver, follow: String(opts.follow === true) });
    if (opts.tail !== undefined) q.set('tail', String(opts.tail));
    await this.stream(at, 'GET', `/v1/node/tasks/${encodeURIComponent(task.id)}/logs?${q}`, undefined, opts.signal, onLine);
  }

  async stats<T>(at: NodeAddress, task: TaskRef): Promise<T | undefined> {
    const r = await this.json<{ stats: T | null }>(at, `/v1/node/tasks/${encodeURIComponent(task.id)}/stats?driver=${task.driver}`);
    return r.stats ?? undefined;
  }

  async top(at: NodeAddress, task: TaskRef): Promise<{ titles: string[]; processes: string[][] } | undefined> {
    const r = await this.json<{ top: { titles: string[]; processes: string[][] } | null }>(at, `/v1/node/tasks/${encodeURIComponent(task.id)}/top?driver=${task.driver}`);
    return r.top ?? undefined;
  }

  async exec(at: NodeAddress, task: TaskRef, req: { argv: string[]; env?: string[]; user?: string; workdir?: string }, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void, signal: AbortSignal): Promise<number | null> {
    let code: number | null = null;
    await this.stream<{ stream?: 'stdout' | 'stderr'; data?: string; exitCode?: number | null }>(at, 'POST', `/v1/node/tasks/${encodeURIComponent(task.id)}/exec?driver=${task.driver}`, JSON.stringify(req), signal, (m) => {
      if (m.stream && m.data !== undefined) onOutput(m.stream, Buffer.from(m.data, 'base64'));
      if (m.exitCode !== undefined) code = m.exitCode;
    });
    return code;
  }

  /** Freezes or thaws a task on its node (`baton pause` / `unpause`). */
  pause(at: NodeAddress, task: TaskRef, action: 'pause' | 'unpause'): Promise<void> {
    return this.stream(at, 'POST', `/v1/node/tasks/${encodeURIComponent(task.id)}/${action}?driver=${task.driver}`, '{}', undefined, () => {});
  }

  /** Sends a signal to a task on its node (`baton kill`). */
  signal(at: NodeAddress, task: TaskRef, signal: string): Promise<void> {
    return this.stream(at, 'POST', `/v1/node/tasks/${encodeURIComponent(task.id)}/signal?driver=${task.driver}&signal=${encodeURIComponent(signal)}`, '{}', undefined, () => {});
  }

  /** exec with stdin and/or a TTY on the task's node: the node's session, relayed; resolves once the command started. */
  execAttached(at: NodeAddress, task: TaskRef, req: { argv: string[]; env?: string[]; user?: string; workdir?: string; tty: boolean; stdin: boolean; size?: TermSize }, onOutput: StdioOutput): Promise<StdioSession> {
    return this.upgrade(at, `/v1/node/tasks/${encodeURIComponent(task.id)}/exec?driver=${task.driver}`, req, onOutput);
  }

  /** A one-off container of a service on this node (`baton run` through a manager): the node's session, relayed; resolves once it started. */
  runAttached(at: NodeAddress, body: NodeRunBody, onOutput: StdioOutput): Promise<StdioSession> {
    return this.upgrade(at, '/v1/node/run', body, onOutput);
  }

  /** An HTTP upgrade to the attached protocol on a node's port; rejects with the node's own words when it refuses. */
  private upgrade(at: NodeAddress, path: string, req: unknown, onOutput: StdioOutput): Promise<StdioSession> {
    const body = JSON.stringify(req);
    return new Promise((resolve, reject) => {
      const r = https.request({
        host: at.address,
        port: at.port,
        method: 'POST',
        path,
        agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'Upgrade', upgrade: STDIO_PROTOCOL },
      });
      r.on('error', (err) => reject(new ClusterRequestError(0, `node ${at.address}:${at.port} unreachable: ${err.message}`)));
      r.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let msg = `HTTP ${res.statusCode}: the node did not take the upgrade`;
          try {
            msg = (JSON.parse(text) as { error: { message: string } }).error.message;
          } catch {
            /* not JSON */
          }
          reject(new ClusterRequestError(res.statusCode ?? 500, `node ${at.address}: ${msg}`));
        });
      });
      r.on('upgrade', (_res, socket: Duplex, head: Buffer) => resolve(stdioChannel(socket, head, onOutput)));
      r.end(body);
    });
  }

  /** Has a node remove its networks of a project (and its named volumes with `volumes`), as `down` does on the manager. */
  removeProject(at: NodeAddress, project: string, volumes: boolean): Promise<void> {
    return this.stream(at, 'POST', `/v1/node/projects/${encodeURIComponent(project)}/remove?volumes=${volumes}`, '{}', undefined, () => {});
  }

  private json<T>(at: NodeAddress, path: string): Promise<T> {
    let out: T | undefined;
    return this.stream<T>(at, 'GET', path, undefined, undefined, (v) => (out = v)).then(() => out as T);
  }

  /** One JSON answer or an NDJSON stream, each item to onItem. */
  private stream<T>(at: NodeAddress, method: string, path: string, body: string | undefined, signal: AbortSignal | undefined, onItem: (item: T) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        { host: at.address, port: at.port, method, path, agent: this.agent, signal, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} },
        (res) => {
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            buf += c;
            if ((res.statusCode ?? 500) >= 400) return;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line.trim()) onItem(JSON.parse(line) as T);
            }
          });
          res.on('error', reject);
          res.on('end', () => {
            if ((res.statusCode ?? 500) >= 400) {
              let msg = `HTTP ${res.statusCode}`;
              try {
                msg = (JSON.parse(buf) as { error: { message: string } }).error.message;
              } catch {
                /* not JSON */
              }
              return reject(new ClusterRequestError(res.statusCode ?? 500, `node ${at.address}: ${msg}`));
            }
            if (buf.trim()) onItem(JSON.parse(buf) as T);
            resolve();
          });
        },
      );
      req.on('error', (err) => {
        if (err.name === 'AbortError') resolve();
        else reject(new ClusterRequestError(0, `node ${at.address}:${at.port} unreachable: ${err.message}`));
      });
      req.end(body);
    });
  }
}

export interface NodeAddress {
  address: string;
  port: number;
}

export interface TaskRef {
  id: string;
  driver: string;
}

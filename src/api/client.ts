import http from 'node:http';
import https from 'node:https';
import type { BatonEvent, NodeInfo } from '../model/types.js';
import type { ComposeProject } from '../spec/types.js';
import type { FileSources } from '../spec/sources.js';
import type { BlobKind, BlobSummary } from './blobs.js';
import type { TokenSummary } from './tokens.js';
import type { ApiProblem } from './errors.js';
import { STDIO_PROTOCOL, stdioChannel, type StdioSession } from '../model/stdio.js';
import type { Duplex } from 'node:stream';
import { BUILD_UPLOAD_TYPE } from './types.js';
import type { NodeUpdateRequest, BuildEvent, BuildRequest, ImageEntry, LoginRequest, PullEvent, PullRequest, PushEvent, PushRequest, RegistryAuth, DeployResult, ExecEvent, ExecRequest, RunRequest, TaskStatsEntry, TaskTopEntry, LogEntry, ProjectStatus, ProjectSummary, RevisionSummary, ServiceUpdateRequest, VersionInfo } from './types.js';

export interface ClientTarget {
  /** Unix socket path of a local daemon. */
  socketPath?: string;
  /** https://host:port of a remote one. */
  url?: string;
  token?: string;
  /** PEM of the certificate (or its CA) the remote daemon must present. */
  ca?: string;
  /** A client certificate and key (PEM), instead of or beside a token. */
  cert?: string;
  key?: string;
}

/** The daemon answered with an error: its code, message and problems. */
export class ApiRequestError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly problems: ApiProblem[]) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

/** Could not reach the daemon at all. */
export class ApiUnreachableError extends Error {
  constructor(readonly target: string, override readonly cause: Error) {
    super(`cannot reach the baton daemon at ${target}: ${cause.message}`);
    this.name = 'ApiUnreachableError';
  }
}

/** Typed client of the baton API, used by the CLI and the dashboard. */
export class ApiClient {
  constructor(private readonly target: ClientTarget) {}

  /** A daemon on another machine (BATON_HOST): it cannot read this machine's files, such as build contexts. */
  get remote(): boolean {
    return !this.target.socketPath && this.target.url !== undefined;
  }

  version(): Promise<VersionInfo> {
    return this.json('GET', '/v1/version');
  }
  nodes(): Promise<NodeInfo[]> {
    return this.json('GET', '/v1/nodes');
  }
  node(ref: string): Promise<NodeInfo> {
    return this.json('GET', `/v1/nodes/${encodeURIComponent(ref)}`);
  }
  updateNode(ref: string, req: NodeUpdateRequest): Promise<NodeInfo> {
    return this.json('POST', `/v1/nodes/${encodeURIComponent(ref)}`, req);
  }
  removeNode(ref: string, force: boolean): Promise<{ removed: string }> {
    return this.json('DELETE', `/v1/nodes/${encodeURIComponent(ref)}${force ? '?force=true' : ''}`);
  }
  joinToken(role: string, rotate: boolean): Promise<{ role: string; token: string; manager: string }> {
    return this.json(rotate ? 'POST' : 'GET', `/v1/cluster/join-token/${encodeURIComponent(role)}`);
  }
  projects(): Promise<ProjectSummary[]> {
    return this.json('GET', '/v1/projects');
  }
  deploy(project: ComposeProject, removeOrphans = false, sources?: FileSources, registryAuth?: Record<string, RegistryAuth>): Promise<DeployResult> {
    return this.json('POST', `/v1/projects/${enc(project.name)}/deploy`, { project, removeOrphans, sources, ...(registryAuth ? { registryAuth } : {}) });
  }
  autolock(enable: boolean): Promise<{ unlockKey?: string }> {
    return this.json('POST', '/v1/autolock', { enable });
  }
  unlock(key: string): Promise<{ unlocked: boolean }> {
    return this.json('POST', '/v1/unlock', { key });
  }
  createToken(role: string, name?: string): Promise<TokenSummary & { token: string }> {
    return this.json('POST', '/v1/tokens', { role, name });
  }
  listTokens(): Promise<TokenSummary[]> {
    return this.json('GET', '/v1/tokens');
  }
  removeToken(id: string): Promise<{ removed: string }> {
    return this.json('DELETE', `/v1/tokens/${enc(id)}`);
  }
  createBlob(kind: BlobKind, name: string, value: Buffer): Promise<BlobSummary> {
    return this.json('POST', `/v1/${kind}s`, { name, data: value.toString('base64') });
  }
  listBlobs(kind: BlobKind): Promise<BlobSummary[]> {
    return this.json('GET', `/v1/${kind}s`);
  }
  inspectBlob(kind: BlobKind, name: string): Promise<BlobSummary[]> {
    return this.json('GET', `/v1/${kind}s/${enc(name)}`);
  }
  removeBlob(kind: BlobKind, name: string): Promise<{ removed: string }> {
    return this.json('DELETE', `/v1/${kind}s/${enc(name)}`);
  }
  /** With `after`, waits (up to 10s) until something changed past that store revision. */
  status(project: string, all = false, after?: number): Promise<ProjectStatus> {
    const q = new URLSearchParams();
    if (all) q.set('all', '1');
    if (after !== undefined) q.set('after', String(after));
    return this.json('GET', `/v1/projects/${enc(project)}${q.size ? `?${q}` : ''}`);
  }
  down(project: string, opts: { volumes?: boolean; rmi?: 'local' | 'all'; timeoutSeconds?: number } = {}): Promise<{ removed: string[]; images?: { image: string; error?: string }[] }> {
    const q = new URLSearchParams();
    if (opts.volumes) q.set('volumes', '1');
    if (opts.timeoutSeconds !== undefined) q.set('timeout', String(opts.timeoutSeconds));
    if (opts.rmi) q.set('rmi', opts.rmi);
    return this.json('DELETE', `/v1/projects/${enc(project)}${q.size ? `?${q}` : ''}`);
  }
  scale(project: string, replicas: Record<string, number>): Promise<{ changed: string[] }> {
    return this.json('POST', `/v1/projects/${enc(project)}/scale`, { replicas });
  }
  pause(project: string, action: 'pause' | 'unpause', services: string[]): Promise<{ changed: { service: string; slot: number; task: string }[] }> {
    return this.json('POST', `/v1/projects/${enc(project)}/${action}`, { services });
  }
  kill(project: string, services: string[], signal?: string): Promise<{ killed: { service: string; slot: number; task: string }[] }> {
    return this.json('POST', `/v1/projects/${enc(project)}/kill`, { services, ...(signal ? { signal } : {}) });
  }
  action(project: string, action: 'stop' | 'start' | 'restart', services: string[], timeoutSeconds?: number): Promise<{ changed: string[] }> {
    return this.json('POST', `/v1/projects/${enc(project)}/${action}`, { services, ...(timeoutSeconds !== undefined ? { timeout: timeoutSeconds } : {}) });
  }
  serviceHistory(project: string, service: string): Promise<RevisionSummary[]> {
    return this.json('GET', `/v1/projects/${enc(project)}/services/${enc(service)}/history`);
  }
  serviceUpdate(project: string, service: string, req: ServiceUpdateRequest): Promise<DeployResult> {
    return this.json('POST', `/v1/projects/${enc(project)}/services/${enc(service)}/update`, req);
  }
  serviceRollback(project: string, service: string): Promise<{ revision: number; to: number }> {
    return this.json('POST', `/v1/projects/${enc(project)}/services/${enc(service)}/rollback`, {});
  }
  logs(project: string, opts: { services?: string[]; tail?: number; follow?: boolean; signal?: AbortSignal; since?: string; until?: string }, onEntry: (e: LogEntry) => void): Promise<void> {
    const q = new URLSearchParams();
    for (const s of opts.services ?? []) q.append('service', s);
    if (opts.tail !== undefined) q.set('tail', String(opts.tail));
    if (opts.since !== undefined) q.set('since', opts.since);
    if (opts.until !== undefined) q.set('until', opts.until);
    if (opts.follow) q.set('follow', '1');
    return this.stream(`/v1/projects/${enc(project)}/logs?${q}`, onEntry, opts.signal);
  }
  stats(project: string, services: string[] = []): Promise<TaskStatsEntry[]> {
    const q = new URLSearchParams(services.map((s): [string, string] => ['service', s]));
    return this.json('GET', `/v1/projects/${enc(project)}/stats${q.size ? `?${q}` : ''}`);
  }
  top(project: string, services: string[] = []): Promise<TaskTopEntry[]> {
    const q = new URLSearchParams(services.map((s): [string, string] => ['service', s]));
    return this.json('GET', `/v1/projects/${enc(project)}/top${q.size ? `?${q}` : ''}`);
  }
  pull(req: PullRequest, onEvent: (e: PullEvent) => void): Promise<void> {
    return this.stream(`/v1/projects/${enc(req.project.name)}/pull`, onEvent, undefined, 'POST', req);
  }
  push(req: PushRequest, onEvent: (e: PushEvent) => void): Promise<void> {
    return this.stream(`/v1/projects/${enc(req.project.name)}/push`, onEvent, undefined, 'POST', req);
  }
  /** Has the daemon's engine check registry credentials (`baton login`). */
  login(auth: RegistryAuth): Promise<{ status: string }> {
    return this.json('POST', '/v1/registry/login', { auth } satisfies LoginRequest);
  }
  images(project: string): Promise<ImageEntry[]> {
    return this.json('GET', `/v1/projects/${enc(project)}/images`);
  }
  /** Builds images of the project's `build:` sections; builder output, then the outcome, through onEvent. */
  build(req: BuildRequest, onEvent: (e: BuildEvent) => void): Promise<void> {
    return this.stream(`/v1/projects/${enc(req.project.name)}/build`, onEvent, undefined, 'POST', req);
  }
  /** Which services a build would build now (their image is missing, or all with force), building nothing. */
  async buildPlan(req: Omit<BuildRequest, 'plan'>): Promise<string[]> {
    let needed: string[] = [];
    let failure: { service: string; message: string } | undefined;
    await this.build({ ...req, plan: true }, (e) => {
      if ('needed' in e) needed = e.needed;
      else if ('error' in e) failure = e.error;
    });
    if (failure) throw new ApiRequestError(400, 'build-failed', `${failure.service ? `service "${failure.service}": ` : ''}${failure.message}`, []);
    return needed;
  }
  /** Builds one service from a context this client sends (a tar, .dockerignore applied): for a remote daemon. */
  async buildFrom(req: BuildRequest, context: NodeJS.ReadableStream, onEvent: (e: BuildEvent) => void): Promise<void> {
    const r = this.send('POST', `/v1/projects/${enc(req.project.name)}/build`, { 'content-type': BUILD_UPLOAD_TYPE }, undefined);
    const res = new Promise<http.IncomingMessage>((resolve, reject) => {
      r.on('response', resolve);
      r.on('error', (err: NodeJS.ErrnoException) => reject(this.unreachable(err)));
    });
    r.write(JSON.stringify(req) + '\n');
    context.on('error', (err: Error) => r.destroy(err));
    context.pipe(r);
    await this.items(await res, onEvent);
  }
  /** `cp` out of a task: a tar stream of the path (a file or a folder). */
  async archive(project: string, q: { service: string; index: number; path: string }): Promise<NodeJS.ReadableStream> {
    const res = await this.request('GET', `/v1/projects/${enc(project)}/archive?${archiveQuery(q)}`);
    await throwIfFailed(res);
    return res;
  }
  /** `cp` into a task: unpacks the tar into the folder at path. */
  putArchive(project: string, q: { service: string; index: number; path: string }, tar: Buffer): Promise<{ copied: number }> {
    return this.json('POST', `/v1/projects/${enc(project)}/archive?${archiveQuery(q)}`, tar);
  }
  /** A one-off container of a service; output arrives through onEvent, the exit code last. */
  run(project: string, req: RunRequest, onEvent: (e: ExecEvent) => void, signal?: AbortSignal): Promise<void> {
    return this.stream(`/v1/projects/${enc(project)}/run`, onEvent, signal, 'POST', req);
  }
  /**
   * exec with stdin and/or a TTY (`tty`, `stdin`, `size` in the request): one
   * upgraded connection carries both ways. Resolves once the command started;
   * refusals (role, no such service) reject as ApiRequestError first.
   */
  execAttached(project: string, req: ExecRequest, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void): Promise<StdioSession> {
    return this.attach(`/v1/projects/${enc(project)}/exec`, req, onOutput);
  }
  /** run attached: as execAttached, for a one-off container. */
  runAttached(project: string, req: RunRequest, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void): Promise<StdioSession> {
    return this.attach(`/v1/projects/${enc(project)}/run`, req, onOutput);
  }
  /** Runs a command in a running task; output arrives through onEvent, the exit code last. */
  exec(project: string, req: ExecRequest, onEvent: (e: ExecEvent) => void, signal?: AbortSignal): Promise<void> {
    return this.stream(`/v1/projects/${enc(project)}/exec`, onEvent, signal, 'POST', req);
  }
  events(opts: { project?: string; since?: number; follow?: boolean; signal?: AbortSignal }, onEvent: (e: BatonEvent) => void): Promise<void> {
    const q = new URLSearchParams();
    if (opts.project) q.set('project', opts.project);
    if (opts.since !== undefined) q.set('since', String(opts.since));
    if (opts.follow) q.set('follow', '1');
    return this.stream(`/v1/events?${q}`, onEvent, opts.signal);
  }

  private describe(): string {
    return this.target.socketPath ?? this.target.url ?? '(nowhere)';
  }

  /** Where and how a request goes: the local socket, or TLS to a remote daemon with its token or certificate. */
  private send(method: string, path: string, extra: http.OutgoingHttpHeaders, payload: Buffer | undefined, signal?: AbortSignal): http.ClientRequest {
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json', ...extra };
    if (payload) headers['content-length'] = payload.length;
    if (this.target.token) headers.authorization = `Bearer ${this.target.token}`;
    const opts: http.RequestOptions = { method, path, headers, signal };
    if (this.target.socketPath) opts.socketPath = this.target.socketPath;
    let secure = false;
    if (!this.target.socketPath && this.target.url) {
      const u = new URL(this.target.url);
      secure = u.protocol === 'https:';
      Object.assign(opts, { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port || (secure ? 443 : 80) });
      if (secure && this.target.ca) Object.assign(opts, { ca: this.target.ca });
      if (secure && this.target.cert && this.target.key) Object.assign(opts, { cert: this.target.cert, key: this.target.key });
    }
    return (secure ? https : http).request(opts);
  }

  /** A failure to reach the daemon in words; other errors as they are. */
  private unreachable(err: NodeJS.ErrnoException): Error {
    const codes = ['ENOENT', 'ECONNREFUSED', 'EACCES', 'ECONNRESET', 'EPROTO', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID'];
    return err.name !== 'AbortError' && codes.includes(err.code ?? '') ? new ApiUnreachableError(this.describe(), err) : err;
  }

  private request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<http.IncomingMessage> {
    // A Buffer goes as it is (a tar for cp); anything else as JSON.
    const raw = Buffer.isBuffer(body);
    const payload = body === undefined ? undefined : raw ? body : Buffer.from(JSON.stringify(body));
    const req = this.send(method, path, payload ? { 'content-type': raw ? 'application/x-tar' : 'application/json' } : {}, payload, signal);
    return new Promise((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', (err: NodeJS.ErrnoException) => reject(this.unreachable(err)));
      req.end(payload);
    });
  }

  /** Upgrades a POST to the attached protocol; a refusal comes back as an ordinary HTTP error answer. */
  private attach(path: string, body: ExecRequest | RunRequest, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void): Promise<StdioSession> {
    const payload = Buffer.from(JSON.stringify(body));
    const req = this.send('POST', path, { 'content-type': 'application/json', connection: 'Upgrade', upgrade: STDIO_PROTOCOL }, payload);
    return new Promise((resolve, reject) => {
      req.on('error', (err: NodeJS.ErrnoException) => reject(this.unreachable(err)));
      req.on('response', (res) => void throwIfFailed(res).then(() => reject(new ApiRequestError(res.statusCode ?? 0, 'bad_response', `the daemon did not take the upgrade to ${STDIO_PROTOCOL}`, [])), reject));
      req.on('upgrade', (_res, socket: Duplex, head: Buffer) => resolve(stdioChannel(socket, head, onOutput)));
      req.end(payload);
    });
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body);
    const text = await readAll(res);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ApiRequestError(res.statusCode ?? 0, 'bad_response', `daemon sent a response that is not JSON: ${text.slice(0, 200)}`, []);
    }
    if ((res.statusCode ?? 500) >= 400) throw toError(res.statusCode ?? 500, parsed);
    return parsed as T;
  }

  private async stream<T>(path: string, onItem: (item: T) => void, signal?: AbortSignal, method = 'GET', body?: unknown): Promise<void> {
    let res: http.IncomingMessage;
    try {
      res = await this.request(method, path, body, signal);
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      throw err;
    }
    await this.items(res, onItem, signal);
  }

  /** An NDJSON answer, item by item; an error answer as ApiRequestError. */
  private async items<T>(res: http.IncomingMessage, onItem: (item: T) => void, signal?: AbortSignal): Promise<void> {
    await throwIfFailed(res);
    let buf = '';
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        buf += chunk.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) onItem(JSON.parse(line) as T);
        }
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError' && !signal?.aborted) throw err;
    }
  }
}

function archiveQuery(q: { service: string; index: number; path: string }): URLSearchParams {
  return new URLSearchParams({ service: q.service, index: String(q.index), path: q.path });
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

async function readAll(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** A streamed answer that is an error: its JSON body (when it has one) as an ApiRequestError. */
async function throwIfFailed(res: http.IncomingMessage): Promise<void> {
  if ((res.statusCode ?? 500) < 400) return;
  const text = await readAll(res);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  throw toError(res.statusCode ?? 500, parsed);
}

function toError(status: number, body: unknown): ApiRequestError {
  const e = (body as { error?: { code?: string; message?: string; problems?: ApiProblem[] } } | undefined)?.error;
  return new ApiRequestError(status, e?.code ?? 'error', e?.message ?? `request failed with status ${status}`, e?.problems ?? []);
}

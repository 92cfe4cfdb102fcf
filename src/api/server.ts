import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import https from 'node:https';
import { chmodSync, unlinkSync } from 'node:fs';
import type { Role, Service, Task } from '../model/types.js';
import { keys } from '../model/keys.js';
import { serviceDriver } from '../model/service.js';
import { buildOptions } from '../model/build-options.js';
import { ComposeValueError } from '../model/compose-values.js';
import type { ComposeProject } from '../spec/types.js';
import { bySlot, isTerminal, wantedSlots } from '../model/task.js';
import { now } from '../model/time.js';
import type { Op, Store } from '../store/store.js';
import { ConflictError } from '../store/store.js';
import { deployProject } from './deploy.js';
import { createBlob, inspectBlob, listBlobs, projectBlobs, removeBlob } from './blobs.js';
import { forcedRestart, restartRevision, rollbackService, serviceHistory, updateService } from './services.js';
import { ApiError, ImageError, badRequest, notFound, type ApiProblem } from './errors.js';
import { ndjson, readJson, sendJson } from './http-util.js';
import { registryAuth, registryAuthMap } from './registry-auth.js';
import { allows, routeRole } from './routes.js';
import { createToken, listTokens, removeToken, roleOf } from './tokens.js';
import { STDIO_PROTOCOL, UpgradeBodyError, readUpgradeBody, serveStdio, switchProtocols, validSize } from '../model/stdio.js';
import { findNode, removeNode, updateNode } from './nodes.js';
import { BUILD_UPLOAD_TYPE } from './types.js';
import { PassThrough } from 'node:stream';
import type { ApiHooks, NodeUpdateRequest, BuildEvent, BuildRequest, ImageEntry, LoginRequest, PullEvent, PullRequest, PushEvent, PushRequest, DeployRequest, ExecEvent, ExecRequest, RunRequest, TaskStatsEntry, TaskTopEntry, LogEntry, ProjectStatus, ProjectSummary, ServiceUpdateRequest } from './types.js';

type Params = Record<string, string>;
type Handler = (req: IncomingMessage, res: ServerResponse, params: Params, url: URL) => Promise<void>;
/** The route's upgraded form (exec/run attached): `open` answers 101 and hands over the socket and what came after the body. */
type AttachHandler = (body: unknown, params: Params, open: () => { socket: Duplex; pending: Buffer }) => Promise<void>;

interface RouteDef {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
  attach?: AttachHandler;
  role: Role;
}

const DOWN_TIMEOUT_MS = 120_000;
/** `cp` into a task is held in memory on its way: bounded. */
const MAX_ARCHIVE = 512 * 1024 * 1024;
/** The JSON body of an upgrade request (exec/run attached). */
const MAX_UPGRADE_BODY = 1024 * 1024;
const UPGRADE_BODY_TIMEOUT_MS = 30_000;
/** The JSON line before a build upload's context (the normalized project): as much as any JSON body. */
const MAX_BUILD_REQUEST = 32 * 1024 * 1024;

/**
 * The HTTP API: JSON in and out, newline-delimited JSON for streams (logs,
 * events). Listens on a unix socket only its owner may open, and optionally
 * on TCP where every request must carry the bearer token.
 */
export class ApiServer {
  private readonly routes: RouteDef[] = [];
  private readonly servers: http.Server[] = [];
  /** Upgraded connections are the server's no more: close() ends them itself. */
  private readonly upgraded = new Set<Duplex>();

  constructor(private readonly store: Store, private readonly hooks: ApiHooks) {
    this.route('GET', '/v1/version', async (_q, res) => sendJson(res, 200, hooks.version));
    this.route('GET', '/v1/nodes', async (_q, res) => sendJson(res, 200, (await store.list('node')).map((v) => v.value)));
    this.route('GET', '/v1/nodes/:id', async (_q, res, p) => sendJson(res, 200, (await findNode(store, p.id)).value));
    this.route('POST', '/v1/nodes/:id', async (req, res, p) => sendJson(res, 200, await updateNode(store, p.id, await readJson<NodeUpdateRequest>(req))));
    this.route('DELETE', '/v1/nodes/:id', async (_q, res, p, url) => sendJson(res, 200, await removeNode(store, p.id, url.searchParams.get('force') === 'true', hooks.selfNode)));
    const joinToken = async (role: string, rotate: boolean): Promise<{ role: string; token: string; manager: string }> => {
      if (!hooks.cluster) throw new ApiError(400, 'not_a_manager', 'this daemon is not a cluster manager: start one with baton manager');
      if (role !== 'worker' && role !== 'manager') throw badRequest(`role: expected worker or manager, got "${role}"`);
      return { role, token: await hooks.cluster.joinToken(role, rotate), manager: hooks.cluster.address };
    };
    this.route('GET', '/v1/cluster/join-token/:role', async (_q, res, p) => sendJson(res, 200, await joinToken(p.role, false)));
    this.route('POST', '/v1/cluster/join-token/:role', async (_q, res, p) => sendJson(res, 200, await joinToken(p.role, true)));
    this.route('GET', '/v1/projects', async (_q, res) => sendJson(res, 200, await this.projects()));
    this.route('POST', '/v1/projects/:name/deploy', async (req, res, p) => {
      const body = await readJson<DeployRequest>(req);
      if (body.project?.name !== p.name) throw badRequest(`project name in the body ("${body.project?.name}") differs from the URL ("${p.name}")`);
      await hooks.probeDrivers?.();
      const auth = registryAuthMap(body.registryAuth, 'registryAuth');
      sendJson(res, 200, await deployProject(store, hooks, body.project, body.removeOrphans === true, body.sources, auth));
    });
    for (const kind of ['secret', 'config'] as const) {
      this.route('GET', `/v1/${kind}s`, async (_q, res) => sendJson(res, 200, await listBlobs(store, kind)));
      this.route('POST', `/v1/${kind}s`, async (req, res) => sendJson(res, 201, await createBlob(store, hooks, kind, await readJson(req))));
      this.route('GET', `/v1/${kind}s/:name`, async (_q, res, p) => sendJson(res, 200, await inspectBlob(store, kind, p.name)));
      this.route('DELETE', `/v1/${kind}s/:name`, async (_q, res, p) => sendJson(res, 200, await removeBlob(store, kind, p.name)));
    }
    this.route('GET', '/v1/projects/:name', async (req, res, p, url) => {
      // ?after=REV is a long poll: answer once the store has moved past REV (or after 10s), so waiting clients need not spin.
      const after = url.searchParams.get('after');
      if (after !== null) await this.storeChange(Number(after), 10_000, req);
      sendJson(res, 200, await this.status(p.name, url.searchParams.get('all') === '1'));
    });
    this.route('DELETE', '/v1/projects/:name', async (_q, res, p, url) => {
      const rmi = url.searchParams.get('rmi');
      if (rmi !== null && rmi !== 'local' && rmi !== 'all') throw badRequest(`rmi: expected local or all, got "${rmi}"`);
      const timeout = url.searchParams.get('timeout');
      sendJson(res, 200, await this.down(p.name, url.searchParams.get('volumes') === '1', rmi ?? undefined, timeout === null ? undefined : stopTimeout(timeout)));
    });
    this.route('POST', '/v1/projects/:name/scale', async (req, res, p) => {
      const body = await readJson<{ replicas?: Record<string, unknown> }>(req);
      const wanted = Object.entries(body.replicas ?? {});
      if (wanted.length === 0) throw badRequest('replicas: give at least one SERVICE=N');
      for (const [svc, n] of wanted) {
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw badRequest(`replicas.${svc}: must be a whole number >= 0`);
      }
      const changed = await this.updateServices(p.name, wanted.map(([s]) => s), (s) => ({ ...s, replicas: body.replicas![s.name] as number }));
      sendJson(res, 200, { changed });
    });
    for (const action of ['stop', 'start', 'restart'] as const) {
      this.route('POST', `/v1/projects/:name/${action}`, async (req, res, p) => {
        const body = await readJson<{ services?: string[]; timeout?: unknown }>(req);
        const timeoutMs = stopTimeout(body.timeout);
        const changed = await this.updateServices(
          p.name,
          body.services ?? [],
          (s) => (action === 'stop' ? { ...s, stopped: true } : action === 'start' ? { ...s, stopped: false } : forcedRestart(s)),
          (s) => (action === 'restart' ? [{ type: 'put', kind: 'revision', key: keys.revision(s.project, s.name, s.revision), value: restartRevision(s) }] : []),
        );
        // As `docker compose stop`: answer once the tasks have stopped.
        if (action === 'stop') await this.tasksEnded(p.name, changed, timeoutMs);
        if (action === 'restart' && timeoutMs !== undefined) this.killReplacedAfter(p.name, changed, timeoutMs);
        sendJson(res, 200, { changed });
      });
    }
    for (const action of ['pause', 'unpause'] as const) {
      this.route('POST', `/v1/projects/:name/${action}`, async (req, res, p) => sendJson(res, 200, await this.pause(p.name, action, await readJson<{ services?: unknown }>(req))));
    }
    this.route('POST', '/v1/projects/:name/kill', async (req, res, p) => sendJson(res, 200, await this.kill(p.name, await readJson<{ services?: unknown; signal?: unknown }>(req))));
    this.route('GET', '/v1/projects/:name/services/:service/history', async (_q, res, p) => sendJson(res, 200, await serviceHistory(store, p.name, p.service)));
    this.route('POST', '/v1/projects/:name/services/:service/update', async (req, res, p) => {
      sendJson(res, 200, await updateService(store, hooks, p.name, p.service, await readJson<ServiceUpdateRequest>(req)));
    });
    this.route('POST', '/v1/projects/:name/services/:service/rollback', async (_q, res, p) => sendJson(res, 200, await rollbackService(store, p.name, p.service)));
    this.route('GET', '/v1/projects/:name/stats', async (_q, res, p, url) => sendJson(res, 200, await this.stats(p.name, url.searchParams.getAll('service'))));
    this.route('GET', '/v1/projects/:name/top', async (_q, res, p, url) => sendJson(res, 200, await this.top(p.name, url.searchParams.getAll('service'))));
    this.route('POST', '/v1/projects/:name/pull', async (req, res, p) => {
      const body = await readJson<PullRequest>(req);
      await hooks.probeDrivers?.();
      await this.pull(res, p.name, body);
    });
    this.route('POST', '/v1/projects/:name/push', async (req, res, p) => {
      const body = await readJson<PushRequest>(req);
      await hooks.probeDrivers?.();
      await this.push(res, p.name, body);
    });
    this.route('POST', '/v1/registry/login', async (req, res) => {
      const body = await readJson<LoginRequest>(req);
      const auth = registryAuth(body?.auth, 'auth');
      await hooks.probeDrivers?.();
      if (!hooks.login) throw new ApiError(400, 'login-unsupported', 'login needs a Docker engine, and none answers on this node');
      let r: { status: string };
      try {
        r = await hooks.login(auth);
      } catch (err) {
        throw new ApiError(401, 'login-failed', `login to ${auth.serveraddress} failed: ${(err as Error).message}`);
      }
      sendJson(res, 200, r);
    });
    this.route('GET', '/v1/projects/:name/images', async (_q, res, p) => sendJson(res, 200, await this.images(p.name)));
    this.route('POST', '/v1/projects/:name/build', async (req, res, p) => {
      const upload = (req.headers['content-type'] ?? '').startsWith(BUILD_UPLOAD_TYPE);
      const { body, context } = upload ? await readBuildUpload(req) : { body: await readJson<BuildRequest>(req), context: undefined };
      try {
        await hooks.probeDrivers?.();
        await this.build(res, p.name, body, context);
      } finally {
        // A context the build did not read (refused, or nothing to build) is drained: the client is still sending it.
        context?.resume();
      }
    });
    this.route('GET', '/v1/projects/:name/archive', async (_q, res, p, url) => this.getArchive(res, p.name, url));
    this.route('POST', '/v1/projects/:name/archive', async (req, res, p, url) => this.putArchive(req, res, p.name, url));
    this.route('POST', '/v1/projects/:name/run', async (req, res, p) => this.runOnce(req, res, p.name, await readJson<RunRequest>(req)), (body, p, open) => this.runAttached(p.name, body as RunRequest, open));
    this.route('POST', '/v1/projects/:name/exec', async (req, res, p) => this.exec(req, res, p.name, await readJson<ExecRequest>(req)), (body, p, open) => this.execAttached(p.name, body as ExecRequest, open));
    this.route('GET', '/v1/projects/:name/logs', async (req, res, p, url) => this.logs(req, res, p.name, url));
    this.route('GET', '/v1/events', async (req, res, _p, url) => this.events(req, res, url));
    this.route('POST', '/v1/autolock', async (req, res) => {
      const body = await readJson<{ enable?: unknown }>(req);
      if (typeof body.enable !== 'boolean') throw badRequest('enable: expected true or false');
      const r = hooks.autolock(body.enable);
      await store.appendEvents([{ type: 'autolock', message: `autolock turned ${body.enable ? 'on' : 'off'}` }]);
      sendJson(res, 200, r);
    });
    this.route('GET', '/v1/tokens', async (_q, res) => sendJson(res, 200, await listTokens(store)));
    this.route('POST', '/v1/tokens', async (req, res) => sendJson(res, 201, await createToken(store, await readJson(req))));
    this.route('DELETE', '/v1/tokens/:id', async (_q, res, p) => sendJson(res, 200, await removeToken(store, p.id)));
  }

  /** With `attach`, the route also takes an HTTP upgrade to the attached protocol; the same role table entry guards both. */
  private route(method: string, path: string, handler: Handler, attach?: AttachHandler): void {
    const names: string[] = [];
    const pattern = new RegExp('^' + path.replace(/:(\w+)/g, (_m, n: string) => (names.push(n), '([^/]+)')) + '$');
    this.routes.push({ method, pattern, names, handler, attach, role: routeRole(method, path) });
  }

  listenUnix(path: string): Promise<void> {
    try {
      unlinkSync(path);
    } catch {
      /* none there */
    }
    const server = this.makeServer(undefined);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        chmodSync(path, 0o600); // only the owner may talk to the daemon
        resolve();
      });
    });
  }

  /** The API on TCP: TLS only, and every request shows a token. */
  /** With `clientCa`, a client certificate it signed is also accepted, its role in the subject's OU. */
  listenTcp(host: string, port: number, token: string, tls: { cert: string; key: string; clientCa?: string }): Promise<void> {
    if (!token) throw new Error('a TCP listener needs a token');
    const server = https.createServer(
      { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}) },
      (req, res) => void this.dispatch(req, res, token),
    );
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head, token));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  }

  async close(): Promise<void> {
    for (const s of this.upgraded) s.destroy();
    await Promise.all(
      this.servers.map((s) => new Promise<void>((r) => {
        s.close(() => r());
        s.closeAllConnections();
      })),
    );
  }

  private makeServer(token: string | undefined): http.Server {
    const server = http.createServer((req, res) => void this.dispatch(req, res, token));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head, token));
    this.servers.push(server);
    return server;
  }

  /** The route a request names, once its caller's role allows it: plain requests and upgrades pass the same check. */
  private async match(req: IncomingMessage, token: string | undefined): Promise<{ route: RouteDef; params: Params; url: URL }> {
    // The unix socket is owner-only: whoever reaches it is the owner, an admin. TCP callers show a token.
    const role: Role = token === undefined ? 'admin' : await roleOf(req, this.store, token);
    const url = new URL(req.url ?? '/', 'http://baton');
    for (const r of this.routes) {
      const m = r.pattern.exec(url.pathname);
      if (!m || r.method !== req.method) continue;
      if (!allows(role, r.role)) throw new ApiError(403, 'forbidden', `${req.method} ${url.pathname} needs the ${r.role} role; this token is ${role}`);
      const params: Params = {};
      r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
      return { route: r, params, url };
    }
    throw new ApiError(404, 'not_found', `no route ${req.method} ${url.pathname}`);
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, token: string | undefined): Promise<void> {
    try {
      const { route, params, url } = await this.match(req, token);
      await route.handler(req, res, params, url);
    } catch (err) {
      const e = asApiError(err);
      if (e.status === 500) console.error(err);
      if (!res.headersSent) sendJson(res, e.status, e.toJSON());
      else res.end();
    }
  }

  /**
   * An HTTP/1.1 upgrade to the attached protocol (exec/run with stdin or a
   * TTY), as Docker's API hijacks the connection for attach. Refusals (role,
   * unknown service, ...) are plain HTTP answers before the switch.
   */
  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, token: string | undefined): Promise<void> {
    socket.on('error', () => socket.destroy());
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    let opened = false;
    try {
      const { route, params, url } = await this.match(req, token);
      if (!route.attach) throw new ApiError(400, 'no_upgrade', `${req.method} ${url.pathname} does not take an upgrade`);
      const protocol = String(req.headers.upgrade ?? '').toLowerCase();
      if (protocol !== STDIO_PROTOCOL) throw new ApiError(400, 'bad_upgrade', `upgrade to "${protocol}": this server speaks ${STDIO_PROTOCOL}`);
      const { body, rest } = await readUpgradeBody(req, socket, head, { max: MAX_UPGRADE_BODY, timeoutMs: UPGRADE_BODY_TIMEOUT_MS }).catch((err: unknown) => {
        throw err instanceof UpgradeBodyError ? new ApiError(err.status, 'bad_request', err.message) : err;
      });
      await route.attach(body, params, () => {
        opened = true;
        switchProtocols(socket);
        return { socket, pending: rest };
      });
    } catch (err) {
      const e = asApiError(err);
      if (e.status === 500) console.error(err);
      if (opened) socket.destroy();
      else {
        const text = JSON.stringify(e.toJSON());
        socket.end(`HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
      }
    }
  }

  private async projects(): Promise<ProjectSummary[]> {
    const services = (await this.store.list('service')).map((v) => v.value);
    const tasks = (await this.store.list('task')).map((v) => v.value);
    return (await this.store.list('project')).map(({ value: p }) => {
      const svcs = services.filter((s) => s.project === p.name);
      // A global service wants one task per eligible node, as its live slots say (not its replicas field).
      const desired = svcs.reduce((n, s) => n + wantedSlots(s, tasks.filter((t) => t.project === s.project && t.service === s.name)).size, 0);
      const running = tasks.filter((t) => t.project === p.name && t.desiredState === 'running' && t.state === 'running').length;
      return {
        name: p.name,
        revision: p.revision,
        workingDir: p.workingDir,
        files: p.files,
        services: svcs.length,
        running,
        desired,
        status: `running(${running}/${desired})`,
        updatedAt: p.updatedAt,
      };
    });
  }

  private async status(project: string, all: boolean): Promise<ProjectStatus> {
    const p = await this.store.get('project', keys.project(project));
    const services = (await this.store.list('service', keys.servicePrefix(project))).map((v) => v.value);
    if (!p && services.length === 0) throw notFound(`project "${project}"`);
    let tasks = (await this.store.list('task', keys.taskPrefix(project))).map((v) => v.value);
    if (!all) {
      // Like `docker compose ps`: one line per slot, its newest task that should run (a rolled-back
      // slot's newest task is the failed one it left), else its newest.
      const bySvc = new Map<string, Task[]>();
      for (const t of tasks) bySvc.set(t.service, [...(bySvc.get(t.service) ?? []), t]);
      tasks = [...bySvc.values()].flatMap((list) => [...bySlot(list).values()].map((l) => l.find((t) => t.desiredState === 'running') ?? l[0]));
    }
    tasks.sort((a, b) => (a.service === b.service ? a.slot - b.slot : a.service < b.service ? -1 : 1));
    return { project, revision: await this.store.revision(), services, tasks };
  }

  private async storeChange(after: number, timeoutMs: number, req: IncomingMessage | undefined): Promise<void> {
    if (!Number.isInteger(after)) throw badRequest('after: expected a store revision');
    if ((await this.store.revision()) > after) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        unwatch();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      const unwatch = this.store.watch(after, () => done());
      req?.once('close', done);
    });
  }

  /** Applies `change` to the named services (all when none named), with compare-and-swap. */
  private async updateServices(project: string, names: string[], change: (s: Service) => Service, extra: (s: Service) => Op[] = () => []): Promise<string[]> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const all = await this.store.list('service', keys.servicePrefix(project));
      if (all.length === 0) throw notFound(`project "${project}"`);
      const unknown = names.filter((n) => !all.some((v) => v.value.name === n));
      if (unknown.length > 0) throw badRequest(`no such service in project "${project}": ${unknown.join(', ')}`);
      const chosen = names.length === 0 ? all : all.filter((v) => names.includes(v.value.name));
      try {
        const ops: Op[] = [];
        for (const v of chosen) {
          const next = { ...change(v.value), updatedAt: now() };
          ops.push({ type: 'put', kind: 'service', key: v.key, value: next, expect: v.version }, ...extra(next));
        }
        await this.store.commit(ops);
        return chosen.map((v) => v.value.name);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    throw new ApiError(409, 'conflict', 'services kept changing; try again');
  }

  /**
   * Removes the project's services, waits until every task of it is gone,
   * then lets the drivers remove its networks (and named volumes with `volumes`).
   * With `volumes`, a project already down still has its volumes removed, as `docker compose down -v` does.
   */
  private async down(project: string, volumes = false, rmi?: 'local' | 'all', timeoutMs?: number): Promise<{ removed: string[]; images?: { image: string; error?: string }[] }> {
    const p = await this.store.get('project', keys.project(project));
    const services = await this.store.list('service', keys.servicePrefix(project));
    if (!p && services.length === 0) {
      if (!volumes || !this.hooks.removeProject) throw notFound(`project "${project}"`);
      await this.hooks.removeProject(project, { volumes });
      return { removed: [] };
    }
    const ops: Op[] = services.map((v) => ({ type: 'delete', kind: 'service', key: v.key }));
    for (const v of await this.store.list('revision', keys.revisionPrefix(project))) ops.push({ type: 'delete', kind: 'revision', key: v.key });
    if (p) ops.push({ type: 'delete', kind: 'project', key: p.key });
    if (await this.store.get('registryAuth', keys.registryAuth(project))) ops.push({ type: 'delete', kind: 'registryAuth', key: keys.registryAuth(project) });
    // Running tasks already have their files; the project's own secret and config versions go with it.
    ops.push(...(await projectBlobs(this.store, project)));
    await this.store.commit(ops);
    await this.store.appendEvents([{ type: 'project.remove', project, message: `removing ${services.length} services` }]);
    await this.tasksEnded(project, services.map((v) => v.value.name), timeoutMs);
    await this.hooks.removeProject?.(project, { volumes });
    // --rmi: the images of its services (local: only those built with the name baton gives), as docker compose down --rmi.
    const images = rmi ? [...new Set(services.map((v) => serviceImage(v.value, rmi)).filter((i): i is string => i !== undefined))] : [];
    const removedImages: { image: string; error?: string }[] = [];
    for (const image of images) {
      if (!this.hooks.removeImage) break;
      removedImages.push(await this.hooks.removeImage(image).then(() => ({ image }), (err: Error) => ({ image, error: err.message })));
    }
    return { removed: services.map((v) => v.value.name), ...(rmi ? { images: removedImages } : {}) };
  }

  /** Resolves once no task of these services runs or is about to (bounded by the stop timeout). */
  /**
   * Waits until the services' tasks have ended. With `killAfterMs` (stop/down -t), tasks still running that long
   * after the stop was asked get SIGKILL: a grace period shorter than their own.
   */
  private async tasksEnded(project: string, services: string[], killAfterMs?: number): Promise<void> {
    const start = Date.now();
    const deadline = start + DOWN_TIMEOUT_MS;
    const killed = new Set<string>();
    while (Date.now() < deadline) {
      const left = (await this.store.list('task', keys.taskPrefix(project))).filter(
        (v) => services.includes(v.value.service) && (!isTerminal(v.value.state) || v.value.desiredState === 'running') && v.value.state !== 'pending',
      );
      if (left.length === 0) return;
      const due = killAfterMs !== undefined && Date.now() - start >= killAfterMs;
      // Each task once, as soon as it is both due and told to stop (the controllers may tell it a moment later).
      if (due) {
        const fresh = left.map((v) => v.value).filter((t) => !killed.has(t.id) && t.desiredState === 'shutdown' && t.state === 'running');
        for (const t of fresh) killed.add(t.id);
        await this.killStopping(fresh);
      }
      const wait = killAfterMs !== undefined && !due ? Math.max(10, Math.min(1000, start + killAfterMs - Date.now())) : 1000;
      await this.storeChange(await this.store.revision(), wait, undefined);
    }
  }

  /** SIGKILL to the tasks among these that were told to stop and still run. */
  private async killStopping(tasks: Task[]): Promise<void> {
    await Promise.all(tasks.filter((t) => t.desiredState === 'shutdown' && t.state === 'running').map((t) => this.hooks.signal?.(t, 'SIGKILL').catch(() => undefined)));
  }

  /** `restart -t`: the replaced tasks that still run `afterMs` from now are killed (the restart itself does not wait). */
  private killReplacedAfter(project: string, services: string[], afterMs: number): void {
    // Looked at a few times from then on: the controllers mark the replaced tasks a moment after the restart.
    for (const extra of [0, 500, 2000]) {
      setTimeout(() => {
        void this.store
          .list('task', keys.taskPrefix(project))
          .then((list) => this.killStopping(list.map((v) => v.value).filter((t) => services.includes(t.service))))
          .catch(() => undefined);
      }, afterMs + extra).unref();
    }
  }

  /** The running tasks of the named services (all when none named), in service and slot order. */
  private async runningTasks(project: string, services: string[]): Promise<Task[]> {
    const st = await this.status(project, false);
    const unknown = services.filter((s) => !st.services.some((x) => x.name === s));
    if (unknown.length > 0) throw badRequest(`no such service in project "${project}": ${unknown.join(', ')}`);
    return st.tasks
      .filter((t) => t.state === 'running' && t.desiredState === 'running' && (services.length === 0 || services.includes(t.service)))
      .sort((a, b) => (a.service === b.service ? a.slot - b.slot : a.service < b.service ? -1 : 1));
  }

  private async stats(project: string, services: string[]): Promise<TaskStatsEntry[]> {
    const tasks = await this.runningTasks(project, services);
    return Promise.all(
      tasks.map(async (t) => ({ service: t.service, slot: t.slot, task: t.id, driver: t.driver, stats: (await this.hooks.stats?.(t).catch(() => undefined)) ?? null })),
    );
  }

  private async top(project: string, services: string[]): Promise<TaskTopEntry[]> {
    const tasks = await this.runningTasks(project, services);
    const out = await Promise.all(
      tasks.map(async (t) => {
        const r = await this.hooks.top?.(t).catch(() => undefined);
        return r ? { service: t.service, slot: t.slot, task: t.id, ...r } : undefined;
      }),
    );
    return out.filter((x): x is TaskTopEntry => x !== undefined);
  }

  /** Whether a service of this project would run as a container here (its own driver, or the default for it). */
  private containerService(compose: ComposeProject, name: string): boolean {
    const cfg = compose.services[name];
    return serviceDriver(cfg, compose, this.hooks.defaultDriver(cfg)) === 'docker';
  }

  /** Pushes the images of the project's services that name one (`image:`), streaming progress; the last item says what was pushed or which service failed. */
  private async push(res: ServerResponse, project: string, body: PushRequest): Promise<void> {
    const { compose, named, names: candidates } = imageRequest(project, body);
    const auth = registryAuthMap(body.auth, 'auth');
    // As Compose: services without an image name have nothing to push; naming one is a mistake worth saying.
    const noImage = candidates.filter((s) => typeof compose.services[s].image !== 'string');
    if (named && noImage.length > 0) throw badRequest(`service "${noImage[0]}" has no image: name to push to (set image:)`);
    const wanted = candidates.filter((s) => typeof compose.services[s].image === 'string' && this.containerService(compose, s));
    if (wanted.length > 0 && !this.hooks.push) throw new ApiError(400, 'push-unsupported', `service "${wanted[0]}": push needs a Docker engine, and none answers on this node`);
    const write = ndjson(res);
    try {
      const r = wanted.length > 0 ? await this.hooks.push!(compose, wanted, (service, line) => write({ service, line } satisfies PushEvent), auth) : { pushed: [] };
      write({ pushed: r.pushed } satisfies PushEvent);
    } catch (err) {
      write({ error: imageFailure(err) } satisfies PushEvent);
    }
    res.end();
  }

  /** Pulls the images of the project's services (those without build:), streaming progress; the last item says what was pulled or which service failed. */
  private async pull(res: ServerResponse, project: string, body: PullRequest): Promise<void> {
    const { compose, names } = imageRequest(project, body);
    const auth = registryAuthMap(body.auth, 'auth');
    // Only services that will run as containers: an image service on the process driver has nothing to pull.
    const wanted = names.filter((s) => compose.services[s].image && !compose.services[s].build && this.containerService(compose, s));
    // `up` (missingOnly) goes on without an engine: the deploy's checks then say what cannot run.
    if (wanted.length > 0 && !this.hooks.pull && !body.missingOnly) throw new ApiError(400, 'pull-unsupported', `service "${wanted[0]}": pull needs a Docker engine, and none answers on this node`);
    const write = ndjson(res);
    if (body.plan) {
      write({ needed: wanted.length > 0 && this.hooks.pullPlan ? await this.hooks.pullPlan(compose, wanted, body.missingOnly === true) : [] } satisfies PullEvent);
      res.end();
      return;
    }
    try {
      const r = wanted.length > 0 && this.hooks.pull ? await this.hooks.pull(compose, wanted, body.missingOnly === true, (service, line) => write({ service, line } satisfies PullEvent), auth) : { pulled: [] };
      write({ pulled: r.pulled } satisfies PullEvent);
    } catch (err) {
      write({ error: imageFailure(err) } satisfies PullEvent);
    }
    res.end();
  }

  /** The image of each service of a deployed project, with what this node has of it. */
  private async images(project: string): Promise<ImageEntry[]> {
    const services = await this.store.list('service', keys.servicePrefix(project));
    if (services.length === 0) throw notFound(`project "${project}"`);
    const out: ImageEntry[] = [];
    for (const { value: s } of services) {
      const image = serviceImage(s, 'all');
      if (!image) continue;
      const info = await this.hooks.imageInfo?.(image).catch(() => undefined);
      out.push({ service: s.name, image, ...(info ?? {}) });
    }
    return out;
  }

  /**
   * Builds the project's images, streaming the builder's output; the last
   * item says what was built or which service failed. With `context` (a
   * remote client's upload) one service is built from it; with `plan`,
   * nothing is, and the answer says which services need it.
   */
  private async build(res: ServerResponse, project: string, body: BuildRequest, context?: NodeJS.ReadableStream): Promise<void> {
    const compose = body.project;
    if (!compose || typeof compose !== 'object' || compose.name !== project || !compose.services) throw badRequest('project: expected the normalized Compose project named in the URL');
    const withBuild = Object.values(compose.services).filter((s) => s.build && this.containerService(compose, s.name)).map((s) => s.name);
    const wanted = body.services && body.services.length > 0 ? body.services : withBuild;
    const noBuild = wanted.filter((s) => !withBuild.includes(s));
    if (noBuild.length > 0) throw badRequest(`no build: section in ${noBuild.map((s) => `service "${s}"`).join(', ')}`);
    if (context && (wanted.length !== 1 || body.services?.length !== 1)) throw badRequest('a build that sends its context names exactly one service');
    const auth = registryAuthMap(body.auth, 'auth');
    for (const k of ['force', 'noCache', 'pull'] as const) if (body[k] !== undefined && typeof body[k] !== 'boolean') throw badRequest(`${k}: expected true or false`);
    const how = { force: body.force === true, noCache: body.noCache === true, pull: body.pull === true };
    // Options the engine's builder cannot honour are refused for every service before any is built: nothing half done.
    const problems: ApiProblem[] = [];
    for (const name of wanted) {
      try {
        buildOptions(name, compose.services[name].build!, how);
      } catch (err) {
        if (!(err instanceof ComposeValueError)) throw err;
        problems.push({ service: name, path: `services.${name}.${err.key}`, message: err.detail });
      }
    }
    if (problems.length > 0) throw badRequest('these images cannot be built', problems);
    if (body.plan) {
      if (wanted.length > 0 && !this.hooks.buildPlan && body.force) throw new ApiError(400, 'build-unsupported', `service "${wanted[0]}": build needs a Docker engine, and none answers on this node`);
      const needed = this.hooks.buildPlan ? await this.hooks.buildPlan(compose, wanted, body.force === true) : [];
      ndjson(res)({ needed } satisfies BuildEvent);
      res.end();
      return;
    }
    // Without an engine, `up` (no force) goes on: the deploy's checks then say what cannot run.
    if (wanted.length > 0 && !this.hooks.build && body.force) throw new ApiError(400, 'build-unsupported', `service "${wanted[0]}": build needs a Docker engine, and none answers on this node`);
    const write = ndjson(res);
    try {
      const r = wanted.length > 0 && this.hooks.build ? await this.hooks.build!(compose, wanted, how, (service, line) => write({ service, line } satisfies BuildEvent), context, auth) : { built: [] };
      write({ built: r.built } satisfies BuildEvent);
    } catch (err) {
      write({ error: imageFailure(err) } satisfies BuildEvent);
    }
    res.end();
  }

  /** The service a `run` names, once the request is well formed and the service can run one-off containers. */
  private async runTarget(project: string, body: RunRequest, attached: boolean): Promise<Service> {
    if (typeof body !== 'object' || body === null) throw badRequest('expected a JSON object');
    if (typeof body.service !== 'string' || !body.service) throw badRequest('service: required');
    for (const k of ['argv', 'entrypoint', 'env'] as const) {
      const v = body[k];
      if (v !== undefined && (!Array.isArray(v) || !v.every((a) => typeof a === 'string'))) throw badRequest(`${k}: expected a list of strings`);
    }
    if (attached) checkAttach(body);
    const svc = await this.store.get('service', keys.service(project, body.service));
    if (!svc) throw notFound(`service "${body.service}" in project "${project}"`);
    const able = attached ? this.hooks.runAttached : this.hooks.run;
    const why = able ? this.hooks.canRun?.(svc.value) : 'this daemon cannot run one-off containers';
    if (why) throw new ApiError(400, 'run-unsupported', `service "${body.service}": ${why}`);
    return svc.value;
  }

  private async runAttached(project: string, body: RunRequest, open: () => { socket: Duplex; pending: Buffer }): Promise<void> {
    const svc = await this.runTarget(project, body, true);
    const { socket, pending } = open();
    await serveStdio(socket, pending, (onOutput) => this.hooks.runAttached!(svc, body, onOutput), { code: 125, prefix: 'run failed' });
  }

  /** A one-off container of a service: its output streamed, then its exit code (125 when it could not start, as `docker run`). */
  private async runOnce(req: IncomingMessage, res: ServerResponse, project: string, body: RunRequest): Promise<void> {
    const svc = await this.runTarget(project, body, false);
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    const write = ndjson(res);
    let exitCode: number | null;
    try {
      exitCode = await this.hooks.run!(svc, body, (stream, data) => write({ stream, data: data.toString('base64') } satisfies ExecEvent), ac.signal);
    } catch (err) {
      write({ stream: 'stderr', data: Buffer.from(`run failed: ${(err as Error).message}\n`).toString('base64') } satisfies ExecEvent);
      exitCode = 125;
    }
    write({ exitCode } satisfies ExecEvent);
    res.end();
  }

  /** `baton pause` / `unpause`: every running task of the services (all when none named), marked paused or not. */
  private async pause(project: string, action: 'pause' | 'unpause', body: { services?: unknown }): Promise<{ changed: { service: string; slot: number; task: string }[] }> {
    if (body.services !== undefined && (!Array.isArray(body.services) || !body.services.every((s) => typeof s === 'string'))) throw badRequest('services: expected a list of service names');
    if (!this.hooks.pause) throw new ApiError(400, 'pause-unsupported', `this daemon cannot ${action} tasks`);
    const wanted = (body.services as string[] | undefined) ?? [];
    const tasks = await this.runningTasks(project, wanted);
    const changed: { service: string; slot: number; task: string }[] = [];
    for (const t of tasks) {
      if ((t.paused === true) === (action === 'pause')) continue;
      const ok = await this.hooks.pause(t, action).then(() => true, () => false);
      if (!ok) continue;
      const cur = await this.store.get('task', keys.task(t));
      if (cur) await this.store.commit([{ type: 'put', kind: 'task', key: cur.key, value: { ...cur.value, paused: action === 'pause', updatedAt: now() }, expect: cur.version }]).catch(() => undefined);
      changed.push({ service: t.service, slot: t.slot, task: t.id });
    }
    return { changed };
  }

  /**
   * `baton kill`: the signal to every running task of the services (all when none named). A signal that ends a
   * task for good (SIGKILL, or the service's stop signal) first marks its services stopped, so no restart policy
   * brings them back, as Docker does not restart a container it was told to kill.
   */
  private async kill(project: string, body: { services?: unknown; signal?: unknown }): Promise<{ killed: { service: string; slot: number; task: string }[] }> {
    const signal = body.signal === undefined ? 'SIGKILL' : body.signal;
    if (typeof signal !== 'string' || !/^(SIG)?[A-Z0-9]+$|^\d+$/i.test(signal)) throw badRequest(`signal: expected a signal name such as SIGHUP, or its number, got ${JSON.stringify(body.signal)}`);
    if (body.services !== undefined && (!Array.isArray(body.services) || !body.services.every((s) => typeof s === 'string'))) throw badRequest('services: expected a list of service names');
    if (!this.hooks.signal) throw new ApiError(400, 'kill-unsupported', 'this daemon cannot signal tasks');
    const wanted = (body.services as string[] | undefined) ?? [];
    const tasks = await this.runningTasks(project, wanted);
    const services = (await this.status(project, false)).services.filter((s) => wanted.length === 0 || wanted.includes(s.name));
    const norm = (s: string): string => (/^\d+$/.test(s) ? s : s.toUpperCase().replace(/^(SIG)?/, 'SIG'));
    const final = services.filter((s) => norm(signal) === 'SIGKILL' || norm(signal) === '9' || norm(signal) === norm(s.stopSignal)).map((s) => s.name);
    if (final.length > 0) await this.updateServices(project, final, (s) => ({ ...s, stopped: true }));
    const killed: { service: string; slot: number; task: string }[] = [];
    for (const t of tasks) {
      // One that ended meanwhile has nothing left to signal.
      const ok = await this.hooks.signal(t, signal).then(() => true, () => false);
      if (ok) killed.push({ service: t.service, slot: t.slot, task: t.id });
    }
    return { killed };
  }

  /** The running task of a service's replica `index` (from 1). */
  private async taskAt(project: string, service: string, index: number): Promise<Task> {
    if (!Number.isInteger(index) || index < 1) throw badRequest(`index: expected a whole number from 1, got ${String(index)}`);
    const st = await this.status(project, false);
    if (!st.services.some((s) => s.name === service)) throw notFound(`service "${service}" in project "${project}"`);
    const task = st.tasks.find((t) => t.service === service && t.slot === index && t.desiredState === 'running' && t.state === 'running');
    if (!task) throw new ApiError(409, 'not-running', `service "${service}" has no running task with index ${index}`);
    return task;
  }

  /** The task and path a `cp` names: ?service=&index=&path= */
  private async archiveTarget(project: string, url: URL): Promise<{ task: Task; path: string; service: string }> {
    const service = url.searchParams.get('service') ?? '';
    const path = url.searchParams.get('path') ?? '';
    if (!service) throw badRequest('service: required');
    if (!path.startsWith('/')) throw badRequest(`path: expected an absolute path inside the container, got "${path}"`);
    const task = await this.taskAt(project, service, Number(url.searchParams.get('index') ?? '1'));
    if (!this.hooks.getArchive || !this.hooks.canExec || this.hooks.canExec(task)) throw new ApiError(400, 'cp-unsupported', `service "${service}": cp needs a container`);
    return { task, path, service };
  }

  private async getArchive(res: ServerResponse, project: string, url: URL): Promise<void> {
    const { task, path, service } = await this.archiveTarget(project, url);
    let tar: NodeJS.ReadableStream;
    try {
      tar = await this.hooks.getArchive!(task, path);
    } catch (err) {
      throw new ApiError(404, 'not_found', `service "${service}": ${(err as Error).message}`);
    }
    res.writeHead(200, { 'content-type': 'application/x-tar' });
    await new Promise<void>((resolve) => {
      tar.on('error', () => res.destroy());
      res.on('close', resolve);
      tar.pipe(res);
    });
  }

  private async putArchive(req: IncomingMessage, res: ServerResponse, project: string, url: URL): Promise<void> {
    const { task, path, service } = await this.archiveTarget(project, url);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > MAX_ARCHIVE) throw new ApiError(413, 'too_large', `cp: more than ${MAX_ARCHIVE / 1024 / 1024} MiB at once`);
      chunks.push(c);
    }
    try {
      await this.hooks.putArchive!(task, path, Buffer.concat(chunks));
    } catch (err) {
      throw new ApiError(400, 'cp-failed', `service "${service}": ${(err as Error).message}`);
    }
    sendJson(res, 200, { copied: size });
  }

  /** The task an `exec` names, once the request is well formed and the task can exec. */
  private async execTarget(project: string, body: ExecRequest, attached: boolean): Promise<{ task: Task; index: number }> {
    if (typeof body !== 'object' || body === null) throw badRequest('expected a JSON object');
    if (typeof body.service !== 'string' || !body.service) throw badRequest('service: required');
    if (!Array.isArray(body.argv) || body.argv.length === 0 || !body.argv.every((a) => typeof a === 'string')) throw badRequest('argv: give the command to run');
    if (body.env !== undefined && (!Array.isArray(body.env) || !body.env.every((a) => typeof a === 'string'))) throw badRequest('env: expected a list of strings');
    if (attached) checkAttach(body);
    const index = body.index ?? 1;
    const task = await this.taskAt(project, body.service, index);
    const able = attached ? this.hooks.execAttached : this.hooks.exec;
    const why = able ? this.hooks.canExec?.(task) : 'this daemon cannot exec';
    if (why) throw new ApiError(400, 'exec-unsupported', `service "${body.service}": ${why}`);
    return { task, index };
  }

  private async execAttached(project: string, body: ExecRequest, open: () => { socket: Duplex; pending: Buffer }): Promise<void> {
    const { task, index } = await this.execTarget(project, body, true);
    const { socket, pending } = open();
    await serveStdio(socket, pending, (onOutput) => this.hooks.execAttached!(task, { ...body, index }, onOutput), { code: 126, prefix: 'exec failed' });
  }

  /** Runs a command in a running task, streaming its output, then its exit code. */
  private async exec(req: IncomingMessage, res: ServerResponse, project: string, body: ExecRequest): Promise<void> {
    const { task, index } = await this.execTarget(project, body, false);
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    const write = ndjson(res);
    let exitCode: number | null = null;
    try {
      exitCode = await this.hooks.exec!(task, { ...body, index }, (stream, data) => write({ stream, data: data.toString('base64') } satisfies ExecEvent), ac.signal);
    } catch (err) {
      write({ stream: 'stderr', data: Buffer.from(`exec failed: ${(err as Error).message}\n`).toString('base64') } satisfies ExecEvent);
      exitCode = 126;
    }
    write({ exitCode } satisfies ExecEvent);
    res.end();
  }

  private async logs(req: IncomingMessage, res: ServerResponse, project: string, url: URL): Promise<void> {
    const wanted = url.searchParams.getAll('service');
    const follow = url.searchParams.get('follow') === '1';
    const tailParam = url.searchParams.get('tail');
    const tail = tailParam === null || tailParam === 'all' ? undefined : Number(tailParam);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw badRequest(`tail: expected a whole number or "all", got "${tailParam}"`);
    const bound = (k: 'since' | 'until'): number | undefined => {
      const v = url.searchParams.get(k);
      if (v === null) return undefined;
      const t = Date.parse(v);
      if (Number.isNaN(t)) throw badRequest(`${k}: expected a timestamp, got "${v}"`);
      return t;
    };
    const since = bound('since');
    const until = bound('until');
    const inWindow = (time: string): boolean => {
      const t = Date.parse(time);
      return Number.isNaN(t) || ((since === undefined || t >= since) && (until === undefined || t < until));
    };
    const st = await this.status(project, true);
    const unknown = wanted.filter((w) => !st.services.some((s) => s.name === w));
    if (unknown.length > 0) throw badRequest(`no such service in project "${project}": ${unknown.join(', ')}`);
    const ac = new AbortController();
    req.on('close', () => ac.abort());
    const write = ndjson(res);
    const seen = new Set<string>();
    const follows: Promise<void>[] = [];
    // A task is attached once it has started (before that it has no output to follow).
    const attach = (t: Task, started: boolean): void => {
      if (seen.has(t.id) || (wanted.length > 0 && !wanted.includes(t.service)) || !t.node || !t.startedAt) return;
      seen.add(t.id);
      // Tasks that start while we follow are shown from their first line.
      const lines = started ? undefined : tail;
      const entry = (l: Omit<LogEntry, 'service' | 'slot' | 'task'>): LogEntry => ({ service: t.service, slot: t.slot, task: t.id, ...l });
      // A time window is cut first, then the tail of what is in it (as docker logs --since --tail): without following,
      // a task's lines are read whole and the last ones of the window kept; following, the window alone applies.
      const windowed = since !== undefined || until !== undefined;
      const kept: LogEntry[] = [];
      const onLine = !windowed
        ? (l: Omit<LogEntry, 'service' | 'slot' | 'task'>): void => write(entry(l))
        : follow || lines === undefined
          ? (l: Omit<LogEntry, 'service' | 'slot' | 'task'>): void => void (inWindow(l.time) && write(entry(l)))
          : (l: Omit<LogEntry, 'service' | 'slot' | 'task'>): void => void (inWindow(l.time) && kept.push(entry(l)));
      follows.push(
        this.hooks
          .logs(t, { tail: windowed && !follow ? undefined : lines, follow, signal: ac.signal }, onLine)
          .then(() => {
            for (const e of lines === undefined ? kept : lines === 0 ? [] : kept.slice(-lines)) write(e);
          })
          // A task whose node cannot be reached: said in the stream, the other tasks' logs still flow.
          .catch((err: Error) => write({ service: t.service, slot: t.slot, task: t.id, time: now(), stream: 'stderr', line: `baton: logs unavailable: ${err.message}` } satisfies LogEntry)),
      );
    };
    const ordered = [...st.tasks].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.revision - b.revision);
    for (const t of ordered) attach(t, false);
    if (!follow) {
      await Promise.all(follows);
      res.end();
      return;
    }
    // Following: new tasks (restarts, scale-ups) join the stream as they appear.
    const unwatch = this.store.watch(await this.store.revision(), (events) => {
      for (const e of events) if (e.kind === 'task' && e.type === 'put') attach(e.value as Task, true);
    });
    await new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve()));
    unwatch();
    res.end();
  }

  private async events(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const project = url.searchParams.get('project') ?? undefined;
    const follow = url.searchParams.get('follow') === '1';
    const sinceParam = url.searchParams.get('since');
    const since = sinceParam === null ? undefined : Number(sinceParam);
    const write = ndjson(res);
    let last = since ?? 0;
    const history = await this.store.events({ since, project, limit: since === undefined ? 100 : undefined });
    for (const e of history) {
      write(e);
      last = Math.max(last, e.seq);
    }
    if (!follow) {
      res.end();
      return;
    }
    const off = this.store.onEvent((e) => {
      if (e.seq > last && (!project || e.project === project)) write(e);
    });
    await new Promise<void>((resolve) => req.on('close', () => resolve()));
    off();
  }
}


/** A build upload (BUILD_UPLOAD_TYPE): its JSON line, and the rest of the body (the context's tar) as a stream. */
function readBuildUpload(req: IncomingMessage): Promise<{ body: BuildRequest; context: NodeJS.ReadableStream }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const nl = buf.indexOf(10);
      if (nl < 0) {
        if (buf.length > MAX_BUILD_REQUEST) {
          done();
          reject(new ApiError(413, 'too_large', 'the build request before its context is too large'));
        }
        return;
      }
      done();
      let body: BuildRequest;
      try {
        body = JSON.parse(buf.subarray(0, nl).toString('utf8')) as BuildRequest;
      } catch {
        req.resume();
        return reject(badRequest('a build upload starts with one line of JSON (the build request)'));
      }
      const context = new PassThrough();
      context.write(buf.subarray(nl + 1));
      req.pipe(context);
      resolve({ body, context });
    };
    const onEnd = (): void => {
      done();
      reject(badRequest('a build upload starts with one line of JSON (the build request), then the context'));
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
  });
}

function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ConflictError) return new ApiError(409, 'conflict', 'changed concurrently; try again');
  return new ApiError(500, 'internal', (err as Error).message);
}

/** The attached fields of an exec/run request. */
function checkAttach(body: { tty?: unknown; stdin?: unknown; size?: unknown }): void {
  for (const k of ['tty', 'stdin'] as const) if (body[k] !== undefined && typeof body[k] !== 'boolean') throw badRequest(`${k}: expected true or false`);
  if (body.size !== undefined && !validSize(body.size)) throw badRequest('size: expected { cols, rows }, whole numbers from 1 to 65535');
}

/** The project of an image request (pull, push) checked against the URL, and the services it names (all of them when none). */
function imageRequest(project: string, body: { project?: ComposeProject; services?: string[] }): { compose: ComposeProject; named: boolean; names: string[] } {
  const compose = body.project;
  if (!compose || typeof compose !== 'object' || compose.name !== project || !compose.services) throw badRequest('project: expected the normalized Compose project named in the URL');
  const unknown = (body.services ?? []).filter((s) => !compose.services[s]);
  if (unknown.length > 0) throw badRequest(`no such service: ${unknown.join(', ')}`);
  const named = (body.services ?? []).length > 0;
  return { compose, named, names: named ? body.services! : Object.keys(compose.services) };
}

/** What the last item of an image stream says of a failure: the service an ImageError names, else none. */
function imageFailure(err: unknown): { service: string; message: string } {
  return err instanceof ImageError ? { service: err.service, message: err.message } : { service: '', message: (err as Error).message };
}

/** A service's image (`image:`, else the name a build gives it); with `local`, only a built one without `image:`. */
function serviceImage(s: Service, which: 'local' | 'all'): string | undefined {
  if (s.spec.image) return which === 'all' ? s.spec.image : undefined;
  return s.spec.build ? `${s.project}-${s.name}` : undefined;
}

/** A `-t/--timeout` in seconds (stop, restart, down) as milliseconds; undefined when not given. */
function stopTimeout(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw badRequest(`timeout: expected a number of seconds, got ${JSON.stringify(v)}`);
  return n * 1000;
}

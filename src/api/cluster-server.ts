// The manager's port for nodes (2377, as Swarm's): joining with a token, then
// mutual TLS only. A node's certificate names it (CN) and its cluster (O);
// a node removed with `baton node rm` is refused even with a valid certificate.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { ClusterView, EventInput, NodeInfo, TaskReport } from '../model/types.js';
import type { RegistryAuth } from '../model/image-ref.js';
import { keys } from '../model/keys.js';
import { now } from '../model/time.js';
import type { Store } from '../store/store.js';
import { NodeChanges, readView, registerNode, reportTasks, viewCutter, VIEW_KINDS, type FileValue } from '../controllers/index.js';
import type { NodeMonitor } from '../controllers/index.js';
import { ApiError, badRequest } from './errors.js';
import { readJson, sendJson } from './http-util.js';

export type JoinRole = 'worker' | 'manager';

export interface ClusterHooks {
  /** The CA certificate (PEM) nodes verify the manager with. */
  caPem: string;
  clusterId: string;
  /** The role a join token grants, or undefined when it is not a current token. */
  tokenRole(token: string): Promise<JoinRole | undefined>;
  /** Signs a node's CSR for `nodeId`. Throws on a bad CSR. */
  issue(csrPem: string, nodeId: string, role: JoinRole): Promise<string>;
  /** Decrypted secrets and configs of a service, for a node that runs it. */
  files(serviceId: string): Promise<FileValue[]>;
  /** Registry credentials a deploy of the project sent, for the registry of the image; undefined when none. */
  registryAuth(project: string, image: string): Promise<RegistryAuth | undefined>;
  /** Whether the node runs a one-off container of the project (of that service, when named) that this manager relayed to it. */
  runsOneOff?(nodeId: string, project: string, service?: string): boolean;
  /** An image some service uses, as a `docker save` tar from this manager's engine; undefined when it has none. */
  image?(name: string): Promise<NodeJS.ReadableStream | undefined>;
}

export interface JoinRequest {
  token: string;
  csr: string;
  hostname: string;
}

export interface JoinAnswer {
  nodeId: string;
  role: JoinRole;
  cert: string;
  ca: string;
  clusterId: string;
}

const MAX_WAIT_MS = 30_000;

export class ClusterServer {
  private server: https.Server | undefined;
  /** The last view read, by store revision, with its per-node cutter: many agents asking after one change share one read and one sort. */
  private cached: Promise<(nodeId: string) => ClusterView> | undefined;
  private cachedAt = -1;

  constructor(private readonly store: Store, private readonly monitor: NodeMonitor, private readonly hooks: ClusterHooks, private readonly log: (m: string) => void = () => {}) {}

  listen(host: string, port: number, tls: { cert: string; key: string }): Promise<void> {
    // Client certificates are asked for but not required at the handshake: a joining node has none yet.
    const server = https.createServer({ cert: tls.cert, key: tls.key, ca: this.hooks.caPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, (req, res) => void this.dispatch(req, res));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'https://baton');
      const route = `${req.method} ${url.pathname}`;
      if (route === 'GET /v1/cluster/ca') return sendJson(res, 200, { ca: this.hooks.caPem });
      if (route === 'POST /v1/cluster/join') return sendJson(res, 200, await this.join(req));
      const node = await this.authenticate(req);
      const nodeId = node.id;
      switch (route) {
        case 'POST /v1/cluster/register':
          return sendJson(res, 200, await this.register(req, nodeId));
        case 'POST /v1/cluster/heartbeat':
          if (!(await this.monitor.seen(nodeId, node))) throw removed(nodeId);
          return sendJson(res, 200, {});
        case 'GET /v1/cluster/view':
          return sendJson(res, 200, (await this.view(req, url))(nodeId));
        case 'POST /v1/cluster/report': {
          const body = await readJson<{ reports?: TaskReport[] }>(req);
          if (!Array.isArray(body.reports)) throw badRequest('reports: expected a list');
          await reportTasks(this.store, body.reports, nodeId);
          return sendJson(res, 200, {});
        }
        case 'POST /v1/cluster/event': {
          const e = await readJson<Partial<EventInput>>(req);
          if (typeof e.type !== 'string' || typeof e.message !== 'string') throw badRequest('event: expected type and message');
          await this.store.appendEvents([{ type: e.type, message: e.message, project: e.project, service: e.service, task: e.task, node: nodeId }]);
          return sendJson(res, 200, {});
        }
        case 'POST /v1/cluster/files':
          return sendJson(res, 200, await this.files(req, nodeId));
        case 'POST /v1/cluster/registry-auth': {
          const body = await readJson<{ project?: unknown; image?: unknown }>(req);
          if (typeof body.project !== 'string' || typeof body.image !== 'string') throw badRequest('registry-auth: expected project and image');
          // Only a node that runs the project's tasks (or a one-off container of it this manager sent there) gets its credentials, as with its secrets.
          const tasks = await this.store.list('task', keys.taskPrefix(body.project));
          const runs = tasks.some((v) => v.value.node === nodeId && v.value.desiredState === 'running') || this.hooks.runsOneOff?.(nodeId, body.project) === true;
          if (!runs) throw new ApiError(403, 'forbidden', `node ${nodeId} runs no task of ${body.project}`);
          const auth = await this.hooks.registryAuth(body.project, body.image);
          return sendJson(res, 200, auth ? { auth } : {});
        }
        case 'GET /v1/cluster/image': {
          const name = url.searchParams.get('name');
          if (!name) throw badRequest('name: expected an image name');
          const tar = await this.hooks.image?.(name);
          if (!tar) throw new ApiError(404, 'not_found', `the manager has no image "${name}" that a service uses`);
          res.writeHead(200, { 'content-type': 'application/x-tar' });
          tar.on('error', () => res.destroy());
          // A node that goes away mid-copy: the engine's export stops too, rather than run to its end for nobody.
          res.on('close', () => {
            if (!res.writableFinished) (tar as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
          });
          tar.pipe(res);
          return;
        }
        default:
          throw new ApiError(404, 'not_found', `no route ${route}`);
      }
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(500, 'internal', (err as Error).message);
      if (e.status === 500) this.log(`cluster API: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) sendJson(res, e.status, e.toJSON());
      else res.end();
    }
  }

  /** The node a request comes from: its certificate, signed by this cluster's CA, naming a current member. */
  private async authenticate(req: IncomingMessage): Promise<NodeInfo> {
    const sock = req.socket as TLSSocket;
    if (!sock.authorized) {
      const why = sock.authorizationError ? ` (${String(sock.authorizationError)})` : '';
      throw new ApiError(401, 'unauthorized', `a node certificate issued by this cluster is required${why}`);
    }
    const subject = sock.getPeerCertificate().subject;
    const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
    const nodeId = first(subject?.CN);
    if (!nodeId || first(subject?.O) !== this.hooks.clusterId) throw new ApiError(401, 'unauthorized', 'the certificate is not a node certificate of this cluster');
    const node = await this.store.get('node', keys.node(nodeId));
    if (!node) throw removed(nodeId);
    return node.value;
  }

  private async join(req: IncomingMessage): Promise<JoinAnswer> {
    const body = await readJson<Partial<JoinRequest>>(req);
    if (typeof body.token !== 'string' || typeof body.csr !== 'string') throw badRequest('join: expected token and csr');
    const role = await this.hooks.tokenRole(body.token);
    if (!role) {
      await this.store.appendEvents([{ type: 'node.refused', message: `a join from ${remoteAddress(req)} was refused: invalid join token` }]);
      throw new ApiError(401, 'invalid_token', 'the join token is not valid for this cluster (wrong, or rotated)');
    }
    const nodeId = randomBytes(6).toString('hex');
    let cert: string;
    try {
      cert = await this.hooks.issue(body.csr, nodeId, role);
    } catch (err) {
      throw badRequest((err as Error).message);
    }
    const hostname = typeof body.hostname === 'string' && body.hostname ? body.hostname.slice(0, 253) : nodeId;
    const node: NodeInfo = {
      id: nodeId,
      hostname,
      address: remoteAddress(req),
      role,
      availability: 'active',
      labels: {},
      capacity: { cpus: 0, memoryBytes: 0 },
      drivers: [],
      // Ready once it registers and heartbeats.
      state: 'down',
      message: 'joined, not registered yet',
      heartbeatAt: now(),
      joinedAt: now(),
    };
    await this.store.commit([{ type: 'put', kind: 'node', key: keys.node(nodeId), value: node, expect: 0 }]);
    await this.store.appendEvents([{ type: 'node.join', node: nodeId, message: `node ${hostname} (${nodeId}) joined as ${role} from ${node.address}` }]);
    return { nodeId, role, cert, ca: this.hooks.caPem, clusterId: this.hooks.clusterId };
  }

  private async register(req: IncomingMessage, nodeId: string): Promise<{ nodeId: string }> {
    const body = await readJson<{ node?: Partial<NodeInfo> }>(req);
    const n = body.node;
    if (!n || typeof n !== 'object') throw badRequest('node: expected an object');
    const cur = await this.store.get('node', keys.node(nodeId));
    if (!cur) throw removed(nodeId);
    // Only what a node may say of itself; id and role come from its certificate and the managers.
    const value: NodeInfo = {
      ...cur.value,
      hostname: typeof n.hostname === 'string' && n.hostname ? n.hostname : cur.value.hostname,
      address: typeof n.address === 'string' && n.address ? n.address : remoteAddress(req),
      labels: n.labels && typeof n.labels === 'object' ? { ...n.labels } : {},
      engineLabels: n.engineLabels && typeof n.engineLabels === 'object' ? { ...n.engineLabels } : undefined,
      capacity: n.capacity ?? cur.value.capacity,
      drivers: Array.isArray(n.drivers) ? n.drivers.filter((d): d is string => typeof d === 'string') : [],
      version: typeof n.version === 'string' ? n.version : undefined,
      apiPort: typeof n.apiPort === 'number' && Number.isInteger(n.apiPort) && n.apiPort > 0 && n.apiPort < 65536 ? n.apiPort : undefined,
      heartbeatAt: now(),
      state: 'ready',
    };
    await registerNode(this.store, value);
    await this.monitor.seen(nodeId);
    return { nodeId };
  }

  /** Long poll: the view once the store has changed after `after` in a way an agent acts on (or after `wait` ms). */
  private async view(req: IncomingMessage, url: URL): Promise<(nodeId: string) => ClusterView> {
    const after = Number(url.searchParams.get('after') ?? '0');
    const wait = Math.min(Number(url.searchParams.get('wait') ?? '0') || 0, MAX_WAIT_MS);
    if (after > 0 && wait > 0) {
      const nodes = new NodeChanges();
      for (const v of await this.store.list('node')) nodes.changed({ revision: 0, kind: 'node', key: v.key, type: 'put', value: v.value, version: v.version });
      await new Promise<void>((resolve) => {
        let unwatch: () => void = () => {};
        const done = (): void => {
          clearTimeout(timer);
          unwatch();
          req.off('close', done);
          resolve();
        };
        const timer = setTimeout(done, wait);
        req.once('close', done);
        try {
          unwatch = this.store.watch(after, (events) => {
            if (events.some((e) => VIEW_KINDS.has(e.kind) && (e.kind !== 'node' || nodes.changed(e)))) done();
          });
        } catch {
          done(); // history compacted: a fresh view is the answer
        }
      });
    }
    const rev = await this.store.revision();
    if (!this.cached || this.cachedAt !== rev) {
      this.cachedAt = rev;
      const reading = readView(this.store).then(viewCutter);
      this.cached = reading;
      reading.catch(() => {
        if (this.cached === reading) this.cached = undefined;
      });
    }
    return this.cached;
  }

  /** Secrets reach only nodes that run a task of their service, as Swarm's do. */
  private async files(req: IncomingMessage, nodeId: string): Promise<{ files: { ref: FileValue['ref']; content: string }[] }> {
    const body = await readJson<{ service?: unknown }>(req);
    if (typeof body.service !== 'string') throw badRequest('service: expected "project/name"');
    const [project, name] = body.service.split('/');
    const tasks = await this.store.list('task', keys.taskPrefix(project ?? '', name ?? ''));
    const runs = tasks.some((v) => v.value.node === nodeId && v.value.desiredState === 'running') || this.hooks.runsOneOff?.(nodeId, project ?? '', name ?? '') === true;
    if (!runs) {
      throw new ApiError(403, 'forbidden', `node ${nodeId} runs no task of ${body.service}`);
    }
    const files = await this.hooks.files(body.service);
    return { files: files.map((f) => ({ ref: f.ref, content: f.content.toString('base64') })) };
  }
}

function removed(nodeId: string): ApiError {
  return new ApiError(403, 'node_removed', `node ${nodeId} is not a member of this cluster (removed with baton node rm?)`);
}

function remoteAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

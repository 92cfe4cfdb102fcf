/**
 * HTTP ingress: one listener on every node that routes requests by Host
 * header and path prefix to a service's healthy tasks, as Kubernetes Ingress
 * and CapRover's proxy do.
 *
 * Behaviour worth knowing:
 * - `apply` is declarative: the listener opens with the first route and
 *   closes with the last; routes and their backends are swapped in place and
 *   requests in flight finish on the backend they started with.
 * - A route matches an exact host or a `*.example.com` wildcard (exact wins),
 *   then the longest path prefix (on a `/` boundary).
 * - Backends are chosen round robin; a backend that refuses the connection is
 *   skipped and the next tried, for requests without a body (the ones that
 *   can be sent again safely). Upstream connections are kept alive and reused
 *   (`upstream.ts`: a pooled socket and a small response reader per request,
 *   not `http.request`, which cost more than twice as much).
 * - `X-Forwarded-For`, `-Proto`, `-Host` and `-Port` are set; hop-by-hop
 *   headers are dropped both ways. WebSocket (any `Upgrade`) is carried as a
 *   raw byte stream once the backend accepts it.
 * - Hostile clients: headers must arrive within `headersTimeoutMs` (slowloris),
 *   malformed requests get 400 and the connection closed, and past
 *   `maxConnections` new connections are refused while the others are served.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { ResponseReader, UpstreamPool } from './upstream.js';

export interface HttpBackend {
  /** The task id. */
  id: string;
  host: string;
  port: number;
}

export interface HttpRoute {
  /** e.g. 'shop/web' */
  id: string;
  /** Exact host names or `*.domain` wildcards, lower case. */
  domains: string[];
  /** Path prefix, starting with '/'. */
  path: string;
  backends: HttpBackend[];
  /** Upstream answer timeout (default 60 s). */
  timeoutMs?: number;
  /** Served on the HTTPS port too. */
  tls?: boolean;
  /** Plain HTTP requests get a 308 to https://. */
  redirectHttps?: boolean;
  /** Default round robin; least-connections sends each request to the backend with the fewest in flight. */
  balance?: 'round-robin' | 'least-connections';
}

export interface HttpIngressOptions {
  host?: string;
  port: number;
  /** HTTPS listener for routes with `tls`; certificates come from `certificate`. */
  httpsPort?: number;
  /** The certificate to present for a server name (SNI), when there is one. */
  certificate?: (servername: string) => tls.SecureContext | undefined;
  /** Answers ACME HTTP-01 challenges (`/.well-known/acme-challenge/TOKEN`) on the HTTP port. */
  acmeChallenge?: (token: string) => string | undefined;
  headersTimeoutMs?: number;
  maxConnections?: number;
  log?: (msg: string) => void;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** Set by the ingress itself (X-Forwarded-For extends the client's). */
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port']);

/** How a request's body travels: none, Content-Length bytes, or chunks. */
type RequestBody = 'none' | 'length' | 'chunked';

/** The lower-case tokens of a Connection header: headers named there are hop-by-hop too. */
function tokens(v: string | string[] | undefined): Set<string> {
  if (v === undefined) return new Set();
  return new Set(String(v).toLowerCase().split(',').map((s) => s.trim()));
}

/** A backend's response headers for the client, as a flat name/value list, without hop-by-hop ones. */
function responseHeaders(raw: string[]): string[] {
  let connTokens: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === 'connection') connTokens = tokens(raw[i + 1]);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(lower) || connTokens?.has(lower)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

interface RouteState extends HttpRoute {
  next: number;
}

function backendKey(b: HttpBackend): string {
  return `${b.host}:${b.port}`;
}

export class HttpIngress {
  private server: http.Server | undefined;
  private tlsServer: https.Server | undefined;
  private routes: RouteState[] = [];
  /** Every client socket, upgraded ones included (which the HTTP server stops tracking), for close(). */
  private readonly sockets = new Set<net.Socket>();
  private readonly pool = new UpstreamPool({ maxIdlePerBackend: 64 });
  /** Requests (and upgraded connections) open per backend address, for least-connections. */
  private readonly inFlight = new Map<string, number>();
  private readonly log: (msg: string) => void;
  /** The last listen failure, so the operator can see why the ingress does not answer. */
  error: string | undefined;

  constructor(private readonly opts: HttpIngressOptions) {
    this.log = opts.log ?? (() => {});
  }

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : this.opts.port;
  }

  /** Replaces the route table; opens or closes the listener as routes appear or go. */
  async apply(routes: HttpRoute[]): Promise<void> {
    const prev = new Map(this.routes.map((r) => [r.id, r]));
    this.routes = routes.map((r) => ({ ...r, domains: r.domains.map((d) => d.toLowerCase()), next: prev.get(r.id)?.next ?? 0 }));
    if (routes.length > 0 && !this.server) await this.listen();
    else if (routes.length === 0 && this.server) await this.closeServer();
    const wantTls = this.opts.httpsPort !== undefined && routes.some((r) => r.tls);
    if (wantTls && !this.tlsServer) await this.listenTls();
    else if (!wantTls && this.tlsServer) await this.closeTls();
  }

  get httpsPort(): number | undefined {
    const a = this.tlsServer?.address();
    return a && typeof a === 'object' ? a.port : this.opts.httpsPort;
  }

  async close(): Promise<void> {
    await this.closeServer();
    await this.closeTls();
    this.pool.destroy();
  }

  private listen(): Promise<void> {
    const server = http.createServer(this.serverOptions());
    this.setup(server);
    this.server = server;
    return this.bind(server, this.opts.port, () => (this.server = undefined));
  }

  private listenTls(): Promise<void> {
    const server = https.createServer({
      ...this.serverOptions(),
      minVersion: 'TLSv1.2',
      SNICallback: (name, cb) => {
        const ctx = this.opts.certificate?.(name.toLowerCase());
        if (ctx) cb(null, ctx);
        else cb(new Error(`no certificate for ${name}`));
      },
    });
    this.setup(server);
    this.tlsServer = server;
    return this.bind(server, this.opts.httpsPort!, () => (this.tlsServer = undefined));
  }

  private serverOptions(): http.ServerOptions {
    const headersTimeout = this.opts.headersTimeoutMs ?? 10_000;
    // Node checks the header deadline every connectionsCheckingInterval (30 s by default): often enough to mean it.
    return { headersTimeout, requestTimeout: 300_000, keepAliveTimeout: 5_000, maxHeaderSize: 32 * 1024, connectionsCheckingInterval: Math.max(100, Math.min(1_000, headersTimeout / 2)) };
  }

  private setup(server: http.Server | https.Server): void {
    const headersTimeout = this.opts.headersTimeoutMs ?? 10_000;
    const headerTimers = new WeakMap<net.Socket, NodeJS.Timeout>();
    server.maxConnections = this.opts.maxConnections ?? 10_000;
    server.on(server instanceof https.Server ? 'secureConnection' : 'connection', (sock: net.Socket) => {
      this.sockets.add(sock);
      // Node checks its own header deadline only now and then: the first request's headers get a timer of their own.
      const deadline = setTimeout(() => {
        if (sock.writable) sock.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        setTimeout(() => sock.destroy(), 1_000).unref();
      }, headersTimeout);
      deadline.unref();
      headerTimers.set(sock, deadline);
      sock.once('close', () => {
        clearTimeout(deadline);
        this.sockets.delete(sock);
      });
    });
    const headersDone = (sock: Duplex): void => clearTimeout(headerTimers.get(sock as net.Socket));
    server.prependListener('request', (req: IncomingMessage) => headersDone(req.socket));
    server.prependListener('upgrade', (req: IncomingMessage) => headersDone(req.socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable) return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    server.on('tlsClientError', () => undefined); // a failed handshake (no certificate for that name) ends that connection only
  }

  private bind(server: http.Server | https.Server, port: number, onFail: () => void): Promise<void> {
    return new Promise((resolve) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        this.error = `cannot listen on ${this.opts.host ?? '0.0.0.0'}:${port}: ${err.message}`;
        this.log(`ingress: ${this.error}`);
        onFail();
        resolve();
      });
      server.listen(port, this.opts.host ?? '0.0.0.0', () => {
        this.error = undefined;
        resolve();
      });
    });
  }

  private async closeTls(): Promise<void> {
    const s = this.tlsServer;
    this.tlsServer = undefined;
    if (!s) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      for (const sock of this.sockets) if ((sock as tls.TLSSocket).encrypted) sock.destroy();
    });
  }

  private async closeServer(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      for (const sock of this.sockets) sock.destroy();
    });
  }

  /** The route for a request: exact host before wildcard, then the longest path prefix. */
  match(hostHeader: string | undefined, url: string | undefined): RouteState | undefined {
    const host = (hostHeader ?? '').toLowerCase().replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
    const path = (url ?? '/').split('?')[0];
    let best: RouteState | undefined;
    let bestScore = -1;
    for (const r of this.routes) {
      const exact = r.domains.includes(host);
      const wild = !exact && r.domains.some((d) => d.startsWith('*.') && host.endsWith(d.slice(1)) && host.length > d.length - 1);
      if (!exact && !wild) continue;
      const p = r.path.endsWith('/') ? r.path : `${r.path}/`;
      if (r.path !== '/' && path !== r.path && !path.startsWith(p)) continue;
      const score = (exact ? 1_000_000 : 0) + r.path.length;
      if (score > bestScore) {
        best = r;
        bestScore = score;
      }
    }
    return best;
  }

  /** Counts a request against its backend until its answer is done (or cut). */
  private track(b: HttpBackend, done: { once(event: 'close', l: () => void): unknown }): void {
    const k = backendKey(b);
    this.inFlight.set(k, (this.inFlight.get(k) ?? 0) + 1);
    done.once('close', () => {
      const n = (this.inFlight.get(k) ?? 1) - 1;
      if (n <= 0) this.inFlight.delete(k);
      else this.inFlight.set(k, n);
    });
  }

  private pick(r: RouteState, skip: Set<string>): HttpBackend | undefined {
    if (r.balance === 'least-connections') {
      let best: HttpBackend | undefined;
      // Ties go round robin from the cursor, so equal backends share the load.
      for (let i = 0; i < r.backends.length; i++) {
        const b = r.backends[(r.next + i) % r.backends.length];
        if (skip.has(b.id)) continue;
        if (!best || (this.inFlight.get(backendKey(b)) ?? 0) < (this.inFlight.get(backendKey(best)) ?? 0)) best = b;
      }
      if (best) r.next = (r.backends.indexOf(best) + 1) % r.backends.length;
      return best;
    }
    for (let i = 0; i < r.backends.length; i++) {
      const b = r.backends[(r.next + i) % r.backends.length];
      if (skip.has(b.id)) continue;
      r.next = (r.next + i + 1) % r.backends.length;
      return b;
    }
    return undefined;
  }

  private forwardedHeaders(req: IncomingMessage): IncomingHttpHeaders {
    const out: IncomingHttpHeaders = {};
    const connTokens = tokens(req.headers.connection);
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && !connTokens.has(k)) out[k] = v;
    Object.assign(out, this.forwarded(req));
    return out;
  }

  /** X-Forwarded-For (the client appended to what came before), -Proto, -Host, -Port. */
  private forwarded(req: IncomingMessage): Record<string, string> {
    const peer = req.socket.remoteAddress ?? '';
    const prior = req.headers['x-forwarded-for'];
    return {
      'x-forwarded-for': prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${peer}` : peer,
      'x-forwarded-proto': (req.socket as tls.TLSSocket).encrypted ? 'https' : 'http',
      'x-forwarded-host': req.headers.host ?? '',
      'x-forwarded-port': String(req.socket.localPort ?? ''),
    };
  }

  /** The request head for the backend: the client's headers as they came (names, order), less hop-by-hop ones, plus X-Forwarded-*. */
  private requestHead(req: IncomingMessage, body: RequestBody): string {
    const connTokens = tokens(req.headers.connection);
    let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const lower = raw[i].toLowerCase();
      // Expect: Node's server already answered 100 Continue to the client.
      if (HOP_BY_HOP.has(lower) || connTokens.has(lower) || FORWARDED.has(lower) || lower === 'expect') continue;
      head += `${raw[i]}: ${raw[i + 1]}\r\n`;
    }
    for (const [k, v] of Object.entries(this.forwarded(req))) head += `${k}: ${v}\r\n`;
    // The client's chunks were undone by the server's parser: they are made again for the backend.
    if (body === 'chunked') head += 'transfer-encoding: chunked\r\n';
    return `${head}\r\n`;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const secure = (req.socket as tls.TLSSocket).encrypted === true;
    const acme = !secure && req.url?.startsWith('/.well-known/acme-challenge/') ? this.opts.acmeChallenge?.(req.url.slice('/.well-known/acme-challenge/'.length)) : undefined;
    if (acme !== undefined) return plain(res, 200, acme);
    const route = this.match(req.headers.host, req.url);
    if (!route) return plain(res, 404, `no service is routed for host "${req.headers.host ?? ''}"\n`);
    if (!secure && route.tls && route.redirectHttps) {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      const port = this.httpsPort === 443 ? '' : `:${this.httpsPort}`;
      res.writeHead(308, { location: `https://${host}${port}${req.url ?? '/'}`, 'content-length': 0 });
      return void res.end();
    }
    const body: RequestBody = req.headers['transfer-encoding'] !== undefined ? 'chunked' : req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0' ? 'length' : 'none';
    const head = this.requestHead(req, body);
    const tried = new Set<string>();
    const attempt = (): void => {
      const b = this.pick(route, tried);
      if (!b) return plain(res, route.backends.length === 0 ? 503 : 502, route.backends.length === 0 ? `service ${route.id} has no healthy task\n` : `no task of ${route.id} answered\n`);
      tried.add(b.id);
      this.track(b, res);
      this.exchange(b, req, res, head, body, route.timeoutMs ?? 60_000, false, (err) => {
        // Nothing was sent by this backend: a request without a body can go to the next one.
        if (body === 'none' && (err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' || err.code === 'EHOSTUNREACH')) return attempt();
        if (err.code === 'ETIMEDOUT') return plain(res, 504, `${route.id} did not answer in time\n`);
        plain(res, 502, `${route.id}: ${err.message}\n`);
      });
    };
    attempt();
  }

  /**
   * One request and its answer over a pooled connection to `b`. `failed` is
   * called only while nothing of the answer has reached the client; after
   * that a failure cuts the client's connection, as a proxy must.
   */
  private exchange(b: HttpBackend, req: IncomingMessage, res: ServerResponse, head: string, body: RequestBody, timeoutMs: number, fresh: boolean, failed: (err: NodeJS.ErrnoException) => void): void {
    const { socket, reused } = fresh ? { socket: net.connect({ host: b.host, port: b.port, noDelay: true }), reused: false } : this.pool.acquire(b.host, b.port);
    let answered = false;
    let gotBytes = false;
    let sent = body === 'none';
    let over = false;
    let waitingDrain = false;
    const reader = new ResponseReader(req.method === 'HEAD', {
      head: (h) => {
        // Throws on a header value Node will not send (a control character): that backend's answer is then a 502.
        res.writeHead(h.status, h.statusText, responseHeaders(h.raw));
        answered = true;
      },
      body: (chunk) => {
        if (!res.write(chunk) && !waitingDrain) {
          waitingDrain = true;
          socket.pause();
          res.once('drain', () => {
            waitingDrain = false;
            socket.resume();
          });
        }
      },
      end: () => {
        over = true;
        detach();
        res.end();
        if (reader.reusable && sent && !socket.destroyed) this.pool.release(b.host, b.port, socket);
        else socket.destroy();
      },
    });
    const fail = (err: NodeJS.ErrnoException): void => {
      if (over) return;
      over = true;
      detach();
      socket.destroy();
      if (answered || res.headersSent) return void res.destroy();
      // A kept-alive connection the backend had just closed: the same request on a new one, when it can be sent again.
      if (reused && !gotBytes && body === 'none' && !res.destroyed) return this.exchange(b, req, res, head, body, timeoutMs, true, failed);
      if (!res.destroyed) failed(err);
    };
    const onData = (d: Buffer): void => {
      gotBytes = true;
      try {
        reader.push(d);
      } catch (err) {
        fail(err as NodeJS.ErrnoException);
      }
    };
    const onEnd = (): void => {
      try {
        reader.eof();
      } catch (err) {
        fail(err as NodeJS.ErrnoException);
      }
    };
    const onClose = (): void => {
      if (!over) onEnd();
      if (!over) fail(Object.assign(new Error('the backend closed the connection'), { code: 'ECONNRESET' }));
    };
    const onTimeout = (): void => fail(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT' }));
    const onClientGone = (): void => {
      if (!over) {
        over = true;
        detach();
        socket.destroy();
      }
    };
    const detach = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      socket.off('error', fail);
      socket.off('timeout', onTimeout);
      socket.setTimeout(0);
      res.off('close', onClientGone);
      if (waitingDrain) socket.resume();
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onClose);
    socket.on('error', fail);
    socket.on('timeout', onTimeout);
    socket.setTimeout(timeoutMs);
    res.on('close', onClientGone);
    socket.write(head);
    if (body === 'none') return;
    // The body streams through once (a request with a body is never sent twice).
    req.on('data', (c: Buffer) => {
      if (over) return;
      const ok = body === 'chunked' ? socket.write(`${c.length.toString(16)}\r\n`) && socket.write(c) && socket.write('\r\n') : socket.write(c);
      if (!ok) {
        req.pause();
        socket.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      if (over) return;
      if (body === 'chunked') socket.write('0\r\n\r\n');
      sent = true;
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const route = this.match(req.headers.host, req.url);
    const b = route ? this.pick(route, new Set()) : undefined;
    if (!route || !b) {
      socket.end(`HTTP/1.1 ${route ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.track(b, socket);
    const headers = this.forwardedHeaders(req);
    const up = net.connect(b.port, b.host, () => {
      let head1 = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (const [k, v] of Object.entries(headers)) for (const x of Array.isArray(v) ? v : [v]) if (x !== undefined) head1 += `${k}: ${x}\r\n`;
      // The upgrade itself is what this connection is for: Connection and Upgrade go through.
      head1 += `connection: Upgrade\r\nupgrade: ${req.headers.upgrade ?? ''}\r\n\r\n`;
      up.write(head1);
      if (head.length > 0) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    const end = (): void => {
      up.destroy();
      socket.destroy();
    };
    up.on('error', () => {
      if (!up.bytesRead && socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else end();
    });
    socket.on('error', end);
    up.on('close', () => socket.destroy());
    socket.on('close', () => up.destroy());
  }
}

function plain(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The user-space routing mesh: one listener per route (a published port or a
 * service's stable loopback address), balancing each new TCP connection or UDP
 * client over the route's backends (task endpoints).
 *
 * Behaviour worth knowing:
 * - `apply` is declarative and serialized: listeners open for new routes and
 *   close for routes no longer present; the backends of a kept route are
 *   swapped in place. Established connections are never cut by `apply` (they
 *   drain, and are counted in `connections()`); only `close()` cuts them.
 * - A connection tries backends in balance order, suspects last; a backend
 *   that refuses or times out is suspect for `suspectMs` (passive health) and
 *   the next one is tried, up to all of them.
 * - Until a backend sends its first byte, the client's bytes are kept (up to
 *   64 KiB) so a backend that resets or closes before answering (killed mid
 *   request) costs the client nothing: the bytes are replayed to the next
 *   backend. A clean close (FIN) is taken at its word, without a replay,
 *   when the client had already half-closed (the request may have been
 *   acted on), or had sent nothing for a second (an idle timeout); a silent
 *   connection closed sooner than that is a dead backend, and the next is tried.
 * - With no backend at all (or all of them failing), a new connection is held
 *   up to `holdMs` (default 2 s) waiting for `apply` to bring one: during a
 *   restart backends come back quickly, and a held connection beats a refused
 *   one. After that it is closed.
 * - Once a backend has answered, the two sockets are piped both ways with
 *   backpressure and half-close; an error or abort on either side destroys
 *   both. No idle timeout is applied to established TCP connections.
 * - UDP: one session socket per client address (the reply path), pinned to a
 *   backend chosen round-robin, expiring after `udpIdleMs` (30 s) without
 *   traffic either way; a session whose backend left the route or answered
 *   with ICMP port-unreachable is re-balanced on the next datagram.
 */
import net from 'node:net';
import dgram from 'node:dgram';

export interface Backend {
  /** The task id. */
  id: string;
  host: string;
  port: number;
}

export type Balance = 'round-robin' | 'least-connections';

export interface Route {
  /** e.g. 'proj/web:8080/tcp@18080' */
  id: string;
  listen: { host: string; port: number };
  protocol: 'tcp' | 'udp';
  backends: Backend[];
  /** Default round-robin. */
  balance?: Balance;
  /**
   * Who may connect: IPv4 CIDRs (`172.18.0.0/16`, `10.0.0.5/32`). Anyone else's
   * connection is closed at once (a datagram dropped). Absent: everyone.
   */
  sources?: string[];
}

export interface RouteError {
  routeId: string;
  /** Names the address, e.g. `route r: cannot listen on 127.0.0.1:8080/tcp: address already in use (EADDRINUSE)`. */
  message: string;
  /** The errno code when there is one (EADDRINUSE, EACCES, EADDRNOTAVAIL, ...). */
  code?: string;
}

export interface ApplyResult {
  /** Routes whose listener could not open. Such a route is retried by the next apply. */
  errors: RouteError[];
  /** Route ids whose listener opened in this apply. */
  opened: string[];
  /** Route ids whose listener closed in this apply (removed, or moved to another address). */
  closed: string[];
}

export interface BackendStatus extends Backend {
  /** Open proxied connections (TCP) or live sessions (UDP) to it through this route. */
  connections: number;
  /** It refused or timed out recently; tried last. */
  suspect: boolean;
}

export interface RouteStatus {
  id: string;
  listen: { host: string; port: number };
  protocol: 'tcp' | 'udp';
  balance: Balance;
  listening: boolean;
  /** Why it is not listening, when the last apply could not open it. */
  error?: string;
  backends: BackendStatus[];
  /** Backends no longer in the route that still carry connections (draining). */
  draining: (Backend & { connections: number })[];
}

export interface MeshOptions {
  /** Time allowed to connect to one backend before trying the next. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** How long a new connection waits for a backend when the route has none that answers. Default 2000 ms. */
  holdMs?: number;
  /** How long a refusing backend is tried last. Default 3000 ms. */
  suspectMs?: number;
  /** Idle time after which a UDP session closes. Default 30000 ms. */
  udpIdleMs?: number;
  log?: (msg: string) => void;
}

/** A backend closing a silent connection sooner than this after it opened is taken as dead, not idle. */
const QUICK_CLOSE_MS = 1000;

/** Client bytes kept for a replay while no backend has answered yet. */
const REPLAY_MAX = 64 * 1024;

interface Count {
  backend: Backend;
  active: number;
}

/** One route's live state: its listener, balance cursor and per-backend counts. */
interface RouteState {
  route: Route;
  /** route.sources as a BlockList, made again when the route's sources change. */
  allowed?: { sources: string[]; list: net.BlockList };
  /** Port actually bound (differs from route.listen.port when that is 0). */
  port: number;
  listening: boolean;
  closed: boolean;
  rr: number;
  counts: Map<string, Count>;
  /** Woken by apply (route changed) and on close; used by held connections. */
  waiters: Set<() => void>;
  close(): void;
}

const bkey = (b: { host: string; port: number }): string => `${b.host}:${b.port}`;

/** Whether a route lets this peer in (see Route.sources). */
function admits(st: RouteState, address: string | undefined): boolean {
  const sources = st.route.sources;
  if (!sources) return true;
  if (!address) return false;
  if (st.allowed?.sources !== sources) {
    const list = new net.BlockList();
    for (const c of sources) {
      const [a, bits] = c.split('/');
      if (net.isIPv4(a)) list.addSubnet(a, Number(bits ?? 32), 'ipv4');
    }
    st.allowed = { sources, list };
  }
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return net.isIPv4(v4) && st.allowed.list.check(v4, 'ipv4');
}

function describeError(err: unknown): { code?: string; text: string } {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const known: Record<string, string> = {
    EADDRINUSE: 'address already in use',
    EACCES: 'permission denied',
    EADDRNOTAVAIL: 'address not available on this machine',
  };
  if (code && known[code]) return { code, text: `${known[code]} (${code})` };
  return { code, text: code ? `${e.message} (${code})` : String(e?.message ?? err) };
}

export class Mesh {
  private readonly states = new Map<string, RouteState>();
  private readonly failed = new Map<string, { route: Route; error: string }>();
  /** Every open socket the mesh owns (both ends of every connection), so close() can cut them. */
  private readonly sockets = new Set<net.Socket>();
  private readonly suspects = new Map<string, number>(); // backend key -> until (epoch ms)
  private readonly connectTimeoutMs: number;
  private readonly holdMs: number;
  private readonly suspectMs: number;
  private readonly udpIdleMs: number;
  private readonly log: (msg: string) => void;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(opts: MeshOptions = {}) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2_000;
    this.holdMs = opts.holdMs ?? 2_000;
    this.suspectMs = opts.suspectMs ?? 3_000;
    this.udpIdleMs = opts.udpIdleMs ?? 30_000;
    this.log = opts.log ?? (() => {});
  }

  /** Makes the listeners match `routes`. Never throws for a listener that cannot open: see `errors`. */
  apply(routes: Route[]): Promise<ApplyResult> {
    const run = this.chain.then(() => this.applyNow(routes));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async applyNow(routes: Route[]): Promise<ApplyResult> {
    const result: ApplyResult = { errors: [], opened: [], closed: [] };
    if (this.closed) {
      for (const r of routes) result.errors.push({ routeId: r.id, message: `route ${r.id}: the mesh is closed` });
      return result;
    }
    const wanted = new Map<string, Route>();
    for (const r of routes) {
      if (wanted.has(r.id)) result.errors.push({ routeId: r.id, message: `route ${r.id}: listed twice; the last one is used` });
      wanted.set(r.id, r);
    }
    // Close first, so a port that moves from one route to another can be bound again.
    for (const [id, st] of this.states) {
      const next = wanted.get(id);
      if (next && sameListener(next, st.route)) continue;
      this.states.delete(id);
      st.close();
      result.closed.push(id);
      this.log(`mesh: closed ${id} on ${st.route.listen.host}:${st.port}/${st.route.protocol}`);
    }
    for (const id of this.failed.keys()) if (!wanted.has(id)) this.failed.delete(id);
    const now = Date.now();
    for (const [k, until] of this.suspects) if (until <= now) this.suspects.delete(k);
    for (const r of wanted.values()) {
      const st = this.states.get(r.id);
      if (st) {
        st.route = r; // backends swapped in place; established connections drain
        this.pruneCounts(st);
        wake(st);
        continue;
      }
      try {
        const opened = r.protocol === 'udp' ? await this.openUdp(r) : await this.openTcp(r);
        this.states.set(r.id, opened);
        this.failed.delete(r.id);
        result.opened.push(r.id);
        this.log(`mesh: ${r.id} listening on ${r.listen.host}:${opened.port}/${r.protocol}`);
      } catch (err) {
        const d = describeError(err);
        const message = `route ${r.id}: cannot listen on ${r.listen.host}:${r.listen.port}/${r.protocol}: ${d.text}`;
        this.failed.set(r.id, { route: r, error: message });
        result.errors.push({ routeId: r.id, message, ...(d.code ? { code: d.code } : {}) });
      }
    }
    return result;
  }

  snapshot(): RouteStatus[] {
    const out: RouteStatus[] = [];
    const now = Date.now();
    for (const st of this.states.values()) {
      const r = st.route;
      const current = new Set(r.backends.map(bkey));
      out.push({
        id: r.id,
        listen: { host: r.listen.host, port: st.port },
        protocol: r.protocol,
        balance: r.balance ?? 'round-robin',
        listening: st.listening,
        backends: r.backends.map((b) => ({
          ...b,
          connections: st.counts.get(bkey(b))?.active ?? 0,
          suspect: (this.suspects.get(bkey(b)) ?? 0) > now,
        })),
        draining: [...st.counts.entries()]
          .filter(([k, c]) => !current.has(k) && c.active > 0)
          .map(([, c]) => ({ ...c.backend, connections: c.active })),
      });
    }
    for (const { route: r, error } of this.failed.values()) {
      out.push({
        id: r.id,
        listen: r.listen,
        protocol: r.protocol,
        balance: r.balance ?? 'round-robin',
        listening: false,
        error,
        backends: r.backends.map((b) => ({ ...b, connections: 0, suspect: false })),
        draining: [],
      });
    }
    return out;
  }

  /** Open connections per backend id of a route, draining backends included; {} for an unknown route. */
  connections(routeId: string): Record<string, number> {
    const st = this.states.get(routeId);
    if (!st) return {};
    const out: Record<string, number> = {};
    for (const b of st.route.backends) out[b.id] = st.counts.get(bkey(b))?.active ?? 0;
    for (const c of st.counts.values()) if (!(c.backend.id in out) && c.active > 0) out[c.backend.id] = c.active;
    return out;
  }

  /** Closes every listener and cuts every connection; ports are free when it resolves. */
  async close(): Promise<void> {
    await this.chain;
    this.closed = true;
    for (const st of this.states.values()) st.close();
    this.states.clear();
    this.failed.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  // ---- balancing ----------------------------------------------------------

  private isSuspect(b: Backend, now: number): boolean {
    const until = this.suspects.get(bkey(b));
    if (until === undefined) return false;
    if (until > now) return true;
    this.suspects.delete(bkey(b));
    return false;
  }

  private markSuspect(b: Backend, why: string): void {
    const key = bkey(b);
    const was = (this.suspects.get(key) ?? 0) > Date.now();
    this.suspects.set(key, Date.now() + this.suspectMs);
    if (!was) this.log(`mesh: backend ${b.id} (${key}) ${why}; tried last for ${this.suspectMs} ms`);
  }

  /** The backends of a route in the order to try them: balanced, suspects last. */
  private order(st: RouteState): Backend[] {
    const list = st.route.backends;
    const n = list.length;
    if (n === 0) return [];
    const start = st.rr++ % n;
    if (st.rr > 1e9) st.rr = 0;
    let out = n === 1 ? [list[0]] : [...list.slice(start), ...list.slice(0, start)];
    if (st.route.balance === 'least-connections' && n > 1) {
      // Stable sort after the rotation: ties still take turns.
      out = out.sort((a, b) => (st.counts.get(bkey(a))?.active ?? 0) - (st.counts.get(bkey(b))?.active ?? 0));
    }
    if (this.suspects.size > 0) {
      const now = Date.now();
      const ok: Backend[] = [];
      const bad: Backend[] = [];
      for (const b of out) (this.isSuspect(b, now) ? bad : ok).push(b);
      if (bad.length > 0) out = ok.concat(bad);
    }
    return out;
  }

  private acquire(st: RouteState, b: Backend): () => void {
    const key = bkey(b);
    let c = st.counts.get(key);
    if (!c) st.counts.set(key, (c = { backend: b, active: 0 }));
    c.active++;
    const counted = c;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      counted.active--;
      if (counted.active <= 0 && st.counts.get(key) === counted && !st.route.backends.some((x) => bkey(x) === key)) {
        st.counts.delete(key);
      }
    };
  }

  private pruneCounts(st: RouteState): void {
    const current = new Set(st.route.backends.map(bkey));
    for (const [k, c] of st.counts) if (c.active <= 0 && !current.has(k)) st.counts.delete(k);
  }

  // ---- TCP ----------------------------------------------------------------

  private openTcp(route: Route): Promise<RouteState> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    const st: RouteState = {
      route,
      port: route.listen.port,
      listening: false,
      closed: false,
      rr: 0,
      counts: new Map(),
      waiters: new Set(),
      close: () => {
        if (st.closed) return;
        st.closed = true;
        st.listening = false;
        // Stops accepting now (the port is free when this returns); established connections drain.
        server.close();
        wake(st);
      },
    };
    server.on('connection', (client: net.Socket) => {
      if (st.closed || this.closed || !admits(st, client.remoteAddress)) {
        client.destroy();
        return;
      }
      this.track(client);
      client.on('error', () => client.destroy());
      void this.proxy(st, client).catch((err: unknown) => {
        this.log(`mesh: ${st.route.id}: ${String(err)}`);
        client.destroy();
      });
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: route.listen.host, port: route.listen.port, exclusive: true }, () => {
        server.removeListener('error', reject);
        server.on('error', (err) => this.log(`mesh: ${route.id}: ${err.message}`));
        st.port = (server.address() as net.AddressInfo).port;
        st.listening = true;
        resolve(st);
      });
    });
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  /** Waits for the route to change (apply) or close, at most `ms`. */
  private waitForChange(st: RouteState, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        st.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      st.waiters.add(done);
    });
  }

  /**
   * Carries one client connection: tries backends until one answers (replaying
   * what the client sent to each), then pipes the two sockets.
   */
  private async proxy(st: RouteState, client: net.Socket): Promise<void> {
    const deadline = Date.now() + this.holdMs;
    const replay = { chunks: [] as Buffer[], bytes: 0, ok: true, ended: false };
    let current: net.Socket | undefined;
    let waitingDrain = false;
    const resumeClient = (): void => {
      waitingDrain = false;
      client.resume();
    };
    const onData = (d: Buffer): void => {
      if (replay.ok) {
        replay.bytes += d.length;
        if (replay.bytes > REPLAY_MAX) {
          replay.ok = false;
          replay.chunks = [];
        } else replay.chunks.push(d);
      }
      if (current && !current.write(d) && !waitingDrain) {
        waitingDrain = true;
        client.pause();
        current.once('drain', resumeClient);
      }
    };
    const onEnd = (): void => {
      replay.ended = true;
      current?.end();
    };
    client.on('data', onData);
    client.once('end', onEnd);

    let tried = new Set<string>();
    for (;;) {
      if (client.destroyed || this.closed) break;
      const next = this.order(st).find((b) => !tried.has(bkey(b)));
      if (!next) {
        // Nothing (left) to try: hold the connection while a restart may bring a backend back.
        const left = deadline - Date.now();
        if (left <= 0 || st.closed) break;
        await this.waitForChange(st, left);
        tried = new Set();
        continue;
      }
      tried.add(bkey(next));
      const upstream = await this.connect(next);
      if (!upstream) continue;
      if (client.destroyed || this.closed) {
        upstream.destroy();
        break;
      }
      this.track(upstream);
      const release = this.acquire(st, next);
      current = upstream;
      waitingDrain = false;
      // The switch to plain pipes happens synchronously with the first answer, so no event falls between.
      const outcome = await this.firstAnswer(client, upstream, replay, () => {
        client.off('data', onData);
        client.off('end', onEnd);
        replay.chunks = [];
        this.pipe(client, upstream, release);
      });
      current = undefined;
      if (outcome === 'answered') return;
      release();
      upstream.destroy();
      if (outcome === 'client-gone') return;
      // outcome === 'failed': the backend reset or vanished before answering.
      this.markSuspect(next, 'closed before answering');
      client.pause();
      if (!replay.ok) break;
    }
    client.destroy();
  }

  /**
   * Sends the kept bytes to a fresh upstream and lets the client's bytes flow
   * until the upstream sends its first byte ('answered', which is then written
   * to the client), the upstream fails or closes first, or the client goes.
   */
  private firstAnswer(
    client: net.Socket,
    upstream: net.Socket,
    replay: { chunks: Buffer[]; bytes: number; ended: boolean },
    answered: () => void,
  ): Promise<'answered' | 'failed' | 'client-gone'> {
    const openedAt = Date.now();
    return new Promise((resolve) => {
      const finish = (o: 'answered' | 'failed' | 'client-gone'): void => {
        upstream.off('data', onFirst);
        upstream.off('error', onError);
        upstream.off('end', onUpEnd);
        upstream.off('close', onError);
        client.off('close', onClientClose);
        if (o !== 'answered') upstream.on('error', () => undefined);
        resolve(o);
      };
      const onFirst = (d: Buffer): void => {
        finish('answered');
        client.write(d);
        answered();
      };
      const onError = (): void => finish('failed');
      // A clean close (FIN) before any answer. After a request the client still waits on, the backend
      // died mid-request: replay. When the client had sent nothing (an idle timeout) or had finished
      // sending (it may have been acted on), the close is the answer: passed through, no replay.
      const onUpEnd = (): void => {
        if (replay.bytes > 0 && !replay.ended) return finish('failed');
        // Closed at once with nothing said either way: not an idle timeout but a backend that died
        // (killed just as the client connected, before its request arrived): the next one is tried.
        if (replay.bytes === 0 && !replay.ended && Date.now() - openedAt < QUICK_CLOSE_MS) return finish('failed');
        finish('answered');
        answered();
      };
      const onClientClose = (): void => finish('client-gone');
      upstream.on('data', onFirst);
      upstream.on('error', onError);
      upstream.on('end', onUpEnd);
      upstream.on('close', onError);
      client.on('close', onClientClose);
      for (const d of replay.chunks) upstream.write(d);
      if (replay.ended) upstream.end();
      client.resume();
    });
  }

  /** From the first answer on: plain pipes both ways, half-close kept, either side's failure ends both. */
  private pipe(client: net.Socket, upstream: net.Socket, release: () => void): void {
    let closed = 0;
    const onClose = (self: net.Socket, other: net.Socket) => (): void => {
      // A clean close (both directions done) lets the other side finish flushing; anything else cuts it.
      if (!(self.readableEnded && self.writableFinished)) other.destroy();
      if (++closed === 2) release();
    };
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.once('close', onClose(client, upstream));
    upstream.once('close', onClose(upstream, client));
    if (upstream.readableEnded) client.end();
    else upstream.pipe(client);
    if (client.readableEnded) upstream.end();
    else client.pipe(upstream);
  }

  private connect(b: Backend): Promise<net.Socket | undefined> {
    return new Promise((resolve) => {
      const s = net.connect({ host: b.host, port: b.port, allowHalfOpen: true, noDelay: true });
      const timer = setTimeout(() => {
        s.destroy();
        this.markSuspect(b, `did not accept within ${this.connectTimeoutMs} ms`);
        resolve(undefined);
      }, this.connectTimeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeListener('error', onError);
        resolve(s);
      });
      const onError = (err: NodeJS.ErrnoException): void => {
        clearTimeout(timer);
        s.destroy();
        this.markSuspect(b, `refused (${err.code ?? err.message})`);
        resolve(undefined);
      };
      s.once('error', onError);
    });
  }

  // ---- UDP ----------------------------------------------------------------

  private openUdp(route: Route): Promise<RouteState> {
    interface Session {
      upstream: dgram.Socket;
      key: string;
      last: number;
      ready: boolean;
      queue: Buffer[];
      release: () => void;
    }
    const sock = dgram.createSocket({ type: net.isIPv6(route.listen.host) ? 'udp6' : 'udp4' });
    const sessions = new Map<string, Session>();
    const end = (client: string, s: Session): void => {
      if (sessions.get(client) === s) sessions.delete(client);
      s.release();
      try {
        s.upstream.close();
      } catch {
        /* already closed */
      }
    };
    const sweep = setInterval(
      () => {
        const cutoff = Date.now() - this.udpIdleMs;
        for (const [client, s] of sessions) if (s.last < cutoff) end(client, s);
      },
      Math.max(50, Math.min(5_000, this.udpIdleMs / 2)),
    );
    sweep.unref();
    const st: RouteState = {
      route,
      port: route.listen.port,
      listening: false,
      closed: false,
      rr: 0,
      counts: new Map(),
      waiters: new Set(),
      close: () => {
        if (st.closed) return;
        st.closed = true;
        st.listening = false;
        clearInterval(sweep);
        for (const [client, s] of sessions) end(client, s);
        try {
          sock.close();
        } catch {
          /* never bound */
        }
        wake(st);
      },
    };
    const open = (client: string, rinfo: dgram.RemoteInfo, b: Backend): Session => {
      const upstream = dgram.createSocket(net.isIPv6(b.host) ? 'udp6' : 'udp4');
      const s: Session = { upstream, key: bkey(b), last: Date.now(), ready: false, queue: [], release: this.acquire(st, b) };
      sessions.set(client, s);
      upstream.on('message', (reply) => {
        s.last = Date.now();
        if (!st.closed) sock.send(reply, rinfo.port, rinfo.address);
      });
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        // ICMP port unreachable on a connected socket: the backend is not there. Re-balance next time.
        if (err.code === 'ECONNREFUSED') this.markSuspect(b, 'unreachable (udp)');
        end(client, s);
      });
      upstream.once('connect', () => {
        s.ready = true;
        for (const m of s.queue) upstream.send(m);
        s.queue = [];
      });
      upstream.connect(b.port, b.host);
      return s;
    };
    sock.on('message', (msg, rinfo) => {
      if (st.closed || !admits(st, rinfo.address)) return;
      const client = `${rinfo.address}:${rinfo.port}`;
      let s = sessions.get(client);
      if (s && !st.route.backends.some((b) => bkey(b) === s!.key)) {
        end(client, s); // its backend left the route
        s = undefined;
      }
      if (!s) {
        const b = this.order(st)[0];
        if (!b) return; // no backend: the datagram is dropped, as UDP allows
        s = open(client, rinfo, b);
      }
      s.last = Date.now();
      if (s.ready) s.upstream.send(msg);
      else if (s.queue.length < 64) s.queue.push(msg);
    });
    return new Promise<RouteState>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ address: route.listen.host, port: route.listen.port, exclusive: true }, () => {
        sock.removeListener('error', reject);
        sock.on('error', (err) => this.log(`mesh: ${route.id}: ${err.message}`));
        st.port = sock.address().port;
        st.listening = true;
        resolve(st);
      });
    }).catch((err: unknown) => {
      clearInterval(sweep);
      throw err;
    });
  }
}

function sameListener(a: Route, b: Route): boolean {
  return a.protocol === b.protocol && a.listen.host === b.listen.host && a.listen.port === b.listen.port;
}

function wake(st: RouteState): void {
  for (const w of [...st.waiters]) w();
}

/** Whether a host port can be bound now. */
export function checkPortFree(host: string, port: number, protocol: 'tcp' | 'udp'): Promise<boolean> {
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      s.once('error', () => {
        s.close();
        resolve(false);
      });
      s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(true)));
      return;
    }
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A TCP port the kernel says is free now (bound to 0, read, released). */
export function allocatePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

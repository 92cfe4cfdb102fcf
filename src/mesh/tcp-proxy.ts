import net from 'node:net';
import dgram from 'node:dgram';

export interface Backend {
  /** The task id. */
  id: string;
  host: string;
  port: number;
}

export interface Route {
  /** e.g. 'proj/web:8080/tcp@18080' */
  id: string;
  listen: { host: string; port: number };
  protocol: 'tcp' | 'udp';
  backends: Backend[];
  balance?: 'round-robin' | 'least-connections';
}

export interface ApplyResult {
  /** Routes whose listener could not open, with a message naming the address. */
  errors: { routeId: string; message: string }[];
}

export interface RouteStatus {
  id: string;
  listen: { host: string; port: number };
  protocol: 'tcp' | 'udp';
  listening: boolean;
  backends: (Backend & { connections: number })[];
}

/** A backend that refused a connection is tried last for this long (passive health). */
const SUSPECT_MS = 3_000;
/** With no backend at all, a new connection waits this long for one to appear (a restart in progress). */
const HOLD_MS = 2_000;
const UDP_SESSION_IDLE_MS = 30_000;
/** Client bytes kept for a replay while the backend has not answered yet. */
const REPLAY_MAX = 64 * 1024;

interface Listener {
  route: Route;
  close(): Promise<void>;
  listening: boolean;
}

/**
 * The user-space routing mesh: one listener per route, balancing each new
 * connection over the route's backends. Routes are applied declaratively;
 * changing backends never cuts established connections (they drain).
 */
export class Mesh {
  private readonly listeners = new Map<string, Listener>();
  private readonly conns = new Map<string, number>(); // backend key -> open connections
  private readonly suspect = new Map<string, number>(); // backend key -> until
  private readonly rr = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private readonly connectTimeoutMs: number;
  private readonly log: (msg: string) => void;

  constructor(opts: { connectTimeoutMs?: number; log?: (msg: string) => void } = {}) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2_000;
    this.log = opts.log ?? (() => {});
  }

  async apply(routes: Route[]): Promise<ApplyResult> {
    const errors: ApplyResult['errors'] = [];
    const wanted = new Map(routes.map((r) => [r.id, r]));
    for (const [id, l] of this.listeners) {
      const next = wanted.get(id);
      if (!next || next.listen.port !== l.route.listen.port || next.listen.host !== l.route.listen.host || next.protocol !== l.route.protocol) {
        this.listeners.delete(id);
        await l.close();
      }
    }
    for (const r of routes) {
      const l = this.listeners.get(r.id);
      if (l) {
        l.route = r; // backends swapped in place; open connections are left to finish
        continue;
      }
      try {
        this.listeners.set(r.id, r.protocol === 'udp' ? await this.openUdp(r) : await this.openTcp(r));
      } catch (err) {
        errors.push({ routeId: r.id, message: `cannot listen on ${r.listen.host}:${r.listen.port}/${r.protocol}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      }
    }
    for (const w of [...this.waiters]) w();
    return { errors };
  }

  snapshot(): RouteStatus[] {
    return [...this.listeners.values()].map((l) => ({
      id: l.route.id,
      listen: l.route.listen,
      protocol: l.route.protocol,
      listening: l.listening,
      backends: l.route.backends.map((b) => ({ ...b, connections: this.conns.get(bkey(b)) ?? 0 })),
    }));
  }

  /** Open connections per backend of a route. */
  connections(routeId: string): Record<string, number> {
    const l = this.listeners.get(routeId);
    return Object.fromEntries((l?.route.backends ?? []).map((b) => [b.id, this.conns.get(bkey(b)) ?? 0]));
  }

  async close(): Promise<void> {
    const all = [...this.listeners.values()];
    this.listeners.clear();
    for (const w of [...this.waiters]) w();
    await Promise.all(all.map((l) => l.close()));
  }

  /** Backends in the order to try them: balanced, suspects last. */
  private order(listener: Listener): Backend[] {
    const r = listener.route;
    const list = [...r.backends];
    if (list.length === 0) return list;
    if (r.balance === 'least-connections') {
      list.sort((a, b) => (this.conns.get(bkey(a)) ?? 0) - (this.conns.get(bkey(b)) ?? 0));
    } else {
      const i = (this.rr.get(r.id) ?? 0) % list.length;
      this.rr.set(r.id, i + 1);
      list.push(...list.splice(0, i));
    }
    const now = Date.now();
    const ok = list.filter((b) => (this.suspect.get(bkey(b)) ?? 0) < now);
    return [...ok, ...list.filter((b) => !ok.includes(b))];
  }

  private waitForBackends(listener: Listener, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        if (listener.route.backends.length === 0 && this.listeners.get(listener.route.id) === listener && Date.now() < deadline) return;
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const deadline = Date.now() + ms;
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        resolve();
      }, ms);
      this.waiters.add(done);
    });
  }

  private openTcp(route: Route): Promise<Listener> {
    const sockets = new Set<net.Socket>();
    const listener: Listener = {
      route,
      listening: false,
      close: () =>
        new Promise<void>((resolve) => {
          listener.listening = false;
          server.close(() => resolve());
          // Connections already proxied are left to finish; a closing route only stops accepting.
          void sockets;
        }),
    };
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
      sockets.add(client);
      client.on('close', () => sockets.delete(client));
      client.on('error', () => client.destroy());
      void this.proxy(listener, client);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: route.listen.host, port: route.listen.port, exclusive: true }, () => {
        server.removeListener('error', reject);
        server.on('error', (err) => this.log(`mesh ${route.id}: ${err.message}`));
        listener.listening = true;
        resolve(listener);
      });
    });
  }

  /**
   * Carries one client connection to a backend. Until the backend sends its
   * first byte, what the client sent is kept (up to REPLAY_MAX) so that a
   * backend dying before it answers (killed, crashed) costs the client
   * nothing: the bytes are replayed to the next backend. Once a byte has come
   * back, the two sockets are simply piped.
   */
  private async proxy(listener: Listener, client: net.Socket): Promise<void> {
    if (listener.route.backends.length === 0) await this.waitForBackends(listener, HOLD_MS);
    const sent: Buffer[] = [];
    let sentBytes = 0;
    let replayable = true;
    let clientEnded = false;
    const onData = (d: Buffer): void => {
      if (!replayable) return;
      sentBytes += d.length;
      if (sentBytes > REPLAY_MAX) {
        replayable = false;
        sent.length = 0;
      } else sent.push(d);
    };
    client.on('data', onData);
    client.once('end', () => (clientEnded = true));
    const tried = new Set<string>();
    let order = this.order(listener);
    while (!client.destroyed) {
      const b = order.find((x) => !tried.has(bkey(x)));
      if (!b) break;
      tried.add(bkey(b));
      const upstream = await this.connect(b);
      if (!upstream) {
        this.suspect.set(bkey(b), Date.now() + SUSPECT_MS);
        continue;
      }
      const answered = await this.relay(client, upstream, b, sent, clientEnded);
      if (answered) {
        client.off('data', onData);
        return;
      }
      // The backend went away before answering: try the next one with the same bytes.
      this.suspect.set(bkey(b), Date.now() + SUSPECT_MS);
      if (!replayable) break;
      order = this.order(listener);
    }
    client.destroy();
  }

  /**
   * Pipes client and upstream. Resolves true once the upstream has answered
   * (from then on the connection belongs to it), false when it closed or failed
   * before sending anything, leaving the client open for another try.
   */
  private relay(client: net.Socket, upstream: net.Socket, b: Backend, replay: Buffer[], clientEnded: boolean): Promise<boolean> {
    const key = bkey(b);
    this.conns.set(key, (this.conns.get(key) ?? 0) + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.conns.set(key, Math.max(0, (this.conns.get(key) ?? 1) - 1));
    };
    return new Promise<boolean>((resolve) => {
      let answered = false;
      const forward = (d: Buffer): void => {
        if (!upstream.write(d)) client.pause();
      };
      upstream.on('drain', () => client.resume());
      const onClientEnd = (): void => void upstream.end();
      const failedEarly = (): void => {
        if (answered) return;
        client.off('data', forward);
        client.off('end', onClientEnd);
        upstream.removeAllListeners();
        upstream.on('error', () => undefined);
        upstream.destroy();
        release();
        resolve(false);
      };
      upstream.once('data', (first: Buffer) => {
        answered = true;
        client.write(first);
        // From here on a plain pipe; the pair ends when both directions have.
        upstream.pipe(client);
        let ended = 0;
        const finish = (): void => {
          release();
          client.destroy();
          upstream.destroy();
        };
        const onEnd = (): void => {
          if (++ended === 2) finish();
        };
        upstream.on('end', onEnd);
        client.on('end', onEnd);
        if (client.readableEnded) onEnd();
        upstream.on('close', finish);
        client.on('close', finish);
        client.on('error', finish);
        upstream.on('error', finish);
        resolve(true);
      });
      upstream.on('error', failedEarly);
      upstream.on('end', () => (answered ? undefined : failedEarly()));
      upstream.on('close', () => (answered ? undefined : failedEarly()));
      client.on('close', () => {
        if (answered) return;
        upstream.destroy();
        release();
        resolve(true); // nothing left to retry for
      });
      for (const d of replay) upstream.write(d);
      client.on('data', forward);
      if (clientEnded) upstream.end();
      else client.once('end', onClientEnd);
      client.resume();
    });
  }

  private connect(b: Backend): Promise<net.Socket | undefined> {
    return new Promise((resolve) => {
      const s = net.connect({ host: b.host, port: b.port, allowHalfOpen: true });
      const timer = setTimeout(() => {
        s.destroy();
        resolve(undefined);
      }, this.connectTimeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', () => {
        clearTimeout(timer);
        s.destroy();
        resolve(undefined);
      });
    });
  }

  private openUdp(route: Route): Promise<Listener> {
    const sock = dgram.createSocket({ type: route.listen.host.includes(':') ? 'udp6' : 'udp4' });
    const sessions = new Map<string, { upstream: dgram.Socket; timer: NodeJS.Timeout }>();
    const listener: Listener = {
      route,
      listening: false,
      close: () =>
        new Promise<void>((resolve) => {
          listener.listening = false;
          for (const s of sessions.values()) {
            clearTimeout(s.timer);
            s.upstream.close();
          }
          sessions.clear();
          sock.close(() => resolve());
        }),
    };
    sock.on('message', (msg, rinfo) => {
      const client = `${rinfo.address}:${rinfo.port}`;
      let s = sessions.get(client);
      if (!s) {
        const b = this.order(listener)[0];
        if (!b) return; // no backend: the datagram is dropped, as UDP allows
        const upstream = dgram.createSocket(b.host.includes(':') ? 'udp6' : 'udp4');
        upstream.connect(b.port, b.host);
        upstream.on('message', (reply) => sock.send(reply, rinfo.port, rinfo.address));
        upstream.on('error', () => undefined);
        const session = { upstream, timer: setTimeout(() => undefined, 0) };
        sessions.set(client, session);
        s = session;
        upstream.once('connect', () => upstream.send(msg));
      } else s.upstream.send(msg);
      clearTimeout(s.timer);
      const cur = s;
      s.timer = setTimeout(() => {
        sessions.delete(client);
        cur.upstream.close();
      }, UDP_SESSION_IDLE_MS);
      s.timer.unref();
    });
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ address: route.listen.host, port: route.listen.port, exclusive: true }, () => {
        sock.removeListener('error', reject);
        listener.listening = true;
        resolve(listener);
      });
    });
  }
}

const bkey = (b: Backend): string => `${b.host}:${b.port}`;

/** Whether a host port can be bound now. */
export function checkPortFree(host: string, port: number, protocol: 'tcp' | 'udp'): Promise<boolean> {
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(true)));
      return;
    }
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port the kernel says is free now (bound to 0 and released). */
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

import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import type * as DnsPacket from 'dns-packet';
import type { Answer, Packet, Question } from 'dns-packet';

/** dns-packet, loaded when the first zone opens: a node without service VIPs never needs it. */
let dnsPacket: typeof DnsPacket;
let loading: Promise<void> | undefined;
const loadDnsPacket = (): Promise<void> => (loading ??= import('dns-packet').then((m) => void (dnsPacket = m)));

/**
 * One address the server answers on, and the names it knows there. A zone is
 * one project's view of the names (a container asks its own project's
 * address), so two projects may both have a `web`.
 */
export interface DnsZone {
  /** IPv4 address to listen on (port 53, or the server's `port`). */
  address: string;
  /** Lower-case name, without a trailing dot → its IPv4 addresses. */
  names: Map<string, string[]>;
  /** Seconds a resolver may keep an answer. */
  ttl: number;
}

export interface DnsError {
  address: string;
  message: string;
  code?: string;
}

export interface DnsServerOptions {
  port?: number;
  /** Where names baton does not know are asked; default: the host's /etc/resolv.conf nameservers. */
  upstream?: string[];
  /** The upstreams' port (53). */
  upstreamPort?: number;
  /** How long an upstream gets to answer (ms). */
  upstreamTimeoutMs?: number;
}

const RCODE_SERVFAIL = 2;
const HOST_SERVERS_MS = 5_000;
const RCODE_NXDOMAIN = 3;
const RECURSION_AVAILABLE = 1 << 7;
const AUTHORITATIVE = 1 << 10;

interface Listening {
  zone: DnsZone;
  udp: dgram.Socket;
  tcp: net.Server;
}

/** The IPv4 nameservers of a resolv.conf text (IPv6 ones are left: the forwarder speaks udp4). */
export function resolvConfServers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && net.isIPv4(m[1])) out.push(m[1]);
  }
  return out;
}

/**
 * A small authoritative DNS server for service names, one listening address
 * per zone, over UDP and TCP. Names it does not hold go to the upstream
 * servers, so a container pointed here still resolves the rest of the world.
 */
export class DnsServer {
  private readonly listening = new Map<string, Listening>();
  private readonly port: number;
  private readonly upstreamTimeoutMs: number;
  private readonly upstreamList: string[] | undefined;
  private readonly upstreamPort: number;
  /** The host's nameservers, read again at most every few seconds (not on every forwarded query). */
  private hostServers: { at: number; list: string[] } | undefined;

  constructor(opts: DnsServerOptions = {}) {
    this.port = opts.port ?? 53;
    this.upstreamTimeoutMs = opts.upstreamTimeoutMs ?? 2_000;
    this.upstreamList = opts.upstream;
    this.upstreamPort = opts.upstreamPort ?? 53;
  }

  /** Listens on each zone's address (new zones open, gone ones close, existing ones take their new names). */
  async apply(zones: DnsZone[]): Promise<DnsError[]> {
    if (zones.length > 0) await loadDnsPacket();
    const wanted = new Map(zones.map((z) => [z.address, z]));
    for (const [address, l] of this.listening) {
      if (!wanted.has(address)) {
        this.listening.delete(address);
        l.udp.close();
        l.tcp.close();
      }
    }
    const errors: DnsError[] = [];
    for (const zone of zones) {
      const l = this.listening.get(zone.address);
      if (l) {
        l.zone = zone;
        continue;
      }
      try {
        this.listening.set(zone.address, await this.open(zone));
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        errors.push({ address: zone.address, message: `DNS cannot listen on ${zone.address}:${this.port}: ${e.message}`, ...(e.code ? { code: e.code } : {}) });
      }
    }
    return errors;
  }

  async close(): Promise<void> {
    await this.apply([]);
  }

  /** The addresses answered on now. */
  addresses(): string[] {
    return [...this.listening.keys()];
  }

  private async open(zone: DnsZone): Promise<Listening> {
    const udp = dgram.createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.port, zone.address, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    const tcp = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(this.port, zone.address, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      throw err;
    }
    const l: Listening = { zone, udp, tcp };
    udp.on('error', () => {});
    udp.on('message', (msg, rinfo) => {
      void this.answer(l.zone, msg, 'udp').then((out) => {
        if (out) udp.send(out, rinfo.port, rinfo.address);
      });
    });
    tcp.on('connection', (sock) => this.serveStream(l, sock));
    return l;
  }

  /** DNS over TCP: each message has a two-byte length in front. */
  private serveStream(l: Listening, sock: net.Socket): void {
    let buf = Buffer.alloc(0);
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on('error', () => {});
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        void this.answer(l.zone, msg, 'tcp').then((out) => {
          if (!out || sock.destroyed) return;
          const head = Buffer.alloc(2);
          head.writeUInt16BE(out.length);
          sock.write(Buffer.concat([head, out]));
        });
      }
      if (buf.length > 70_000) sock.destroy();
    });
  }

  /** The reply to one query, or undefined when it is not one worth answering. */
  private async answer(zone: DnsZone, msg: Buffer, via: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    let query: Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return undefined; // not DNS: no reply, as a server owes garbage nothing
    }
    if (query.type === 'response') return undefined;
    const questions = query.questions ?? [];
    const ours = questions.length > 0 && questions.every((q) => zone.names.has(fold(q.name)));
    if (!ours) {
      const known = questions.some((q) => zone.names.has(fold(q.name)));
      if (!known) {
        const relayed = await this.forward(msg, via);
        if (relayed) return relayed;
      }
      return reply(query, [], known ? RCODE_NXDOMAIN : RCODE_SERVFAIL);
    }
    const answers: Answer[] = [];
    for (const q of questions) answers.push(...records(zone, q));
    // A name baton holds with no record of the asked type: NOERROR, no answers (so resolvers do not go on to search domains).
    return reply(query, answers, 0);
  }

  private upstream(): string[] {
    if (this.upstreamList) return this.upstreamList;
    const now = Date.now();
    if (!this.hostServers || now - this.hostServers.at > HOST_SERVERS_MS) {
      let text = '';
      try {
        text = readFileSync('/etc/resolv.conf', 'utf8');
      } catch {
        /* none: nothing to forward to */
      }
      this.hostServers = { at: now, list: resolvConfServers(text) };
    }
    // Never ourselves: a loop would only time out.
    return this.hostServers.list.filter((s) => !this.listening.has(s));
  }

  /** Asks each upstream in turn; the first answer is relayed as it came. */
  private async forward(msg: Buffer, via: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    for (const server of this.upstream()) {
      const out = via === 'udp' ? await this.askUdp(server, msg) : await this.askTcp(server, msg);
      if (out) return out;
    }
    return undefined;
  }

  private askUdp(server: string, msg: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      const done = (out: Buffer | undefined): void => {
        clearTimeout(timer);
        s.close();
        resolve(out);
      };
      const timer = setTimeout(() => done(undefined), this.upstreamTimeoutMs);
      s.on('error', () => done(undefined));
      s.on('message', (out) => done(out));
      s.send(msg, this.upstreamPort, server);
    });
  }

  private askTcp(server: string, msg: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const sock = net.connect(this.upstreamPort, server);
      let buf = Buffer.alloc(0);
      const done = (out: Buffer | undefined): void => {
        clearTimeout(timer);
        sock.destroy();
        resolve(out);
      };
      const timer = setTimeout(() => done(undefined), this.upstreamTimeoutMs);
      sock.on('error', () => done(undefined));
      sock.on('connect', () => {
        const head = Buffer.alloc(2);
        head.writeUInt16BE(msg.length);
        sock.write(Buffer.concat([head, msg]));
      });
      sock.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      });
      sock.on('end', () => done(undefined));
    });
  }
}

function fold(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function records(zone: DnsZone, q: Question): Answer[] {
  if (q.class !== undefined && q.class !== 'IN' && q.class !== 'ANY') return [];
  // 'ANY' (255) is decoded by name, though the types leave it out.
  const type: string = q.type;
  if (type !== 'A' && type !== 'ANY') return [];
  return (zone.names.get(fold(q.name)) ?? []).map((ip) => ({ type: 'A', name: q.name, ttl: zone.ttl, class: 'IN', data: ip }));
}

function reply(query: Packet, answers: Answer[], rcode: number): Buffer {
  const rd = (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
  return dnsPacket.encode({
    type: 'response',
    id: query.id ?? 0,
    flags: rd | RECURSION_AVAILABLE | AUTHORITATIVE | rcode,
    questions: query.questions ?? [],
    answers,
  });
}

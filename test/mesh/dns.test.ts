import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { DnsServer, resolvConfServers, type DnsZone } from '../../src/mesh/dns.js';
import { freePort } from '../helpers/baton.js';

/** One query over UDP, as a stub resolver sends it. */
function askUdp(address: string, port: number, name: string, type: 'A' | 'AAAA' = 'A', raw?: Buffer): Promise<dnsPacket.Packet & { rcode?: string }> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no answer for ${name}`));
    }, 3000);
    s.on('message', (msg) => {
      clearTimeout(timer);
      s.close();
      resolve(dnsPacket.decode(msg) as dnsPacket.Packet & { rcode?: string });
    });
    s.send(raw ?? dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }), port, address);
  });
}

function askTcp(address: string, port: number, name: string): Promise<dnsPacket.Packet & { rcode?: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, address);
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('connect', () => sock.write(dnsPacket.streamEncode({ type: 'query', id: 9, questions: [{ type: 'A', name }] })));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        sock.destroy();
        resolve(dnsPacket.streamDecode(buf) as dnsPacket.Packet & { rcode?: string });
      }
    });
  });
}

const ips = (p: dnsPacket.Packet): string[] => (p.answers ?? []).map((a) => String((a as dnsPacket.StringAnswer).data));

describe('DNS server for service names', () => {
  let port: number;
  let upstream: DnsServer;
  let server: DnsServer;
  const zoneA: DnsZone = { address: '127.0.0.81', ttl: 5, names: new Map([['web', ['10.213.0.5']], ['tasks.web', ['10.213.0.6', '10.213.0.7']]]) };
  const zoneB: DnsZone = { address: '127.0.0.82', ttl: 5, names: new Map([['web', ['10.213.9.9']]]) };

  before(async () => {
    port = await freePort();
    // The rest of the world: another server, on another loopback address, that knows example.org.
    upstream = new DnsServer({ port, upstream: [] });
    assert.deepEqual(await upstream.apply([{ address: '127.0.0.83', ttl: 60, names: new Map([['example.org', ['93.184.216.34']]]) }]), []);
    server = new DnsServer({ port, upstream: ['127.0.0.83'], upstreamPort: port, upstreamTimeoutMs: 500 });
    assert.deepEqual(await server.apply([zoneA, zoneB]), []);
  });

  after(async () => {
    await server.close();
    await upstream.close();
  });

  it('answers a service name with its address, per zone (project)', async () => {
    const a = await askUdp('127.0.0.81', port, 'web');
    assert.equal(a.rcode, 'NOERROR');
    assert.deepEqual(ips(a), ['10.213.0.5']);
    assert.equal((a.answers![0] as dnsPacket.StringAnswer).ttl, 5);
    assert.equal(a.id, 7);
    assert.deepEqual(ips(await askUdp('127.0.0.82', port, 'web')), ['10.213.9.9'], 'the other project has its own web');
  });

  it('answers tasks.<service> with every task, ignores case and a trailing dot, and speaks TCP', async () => {
    assert.deepEqual(ips(await askUdp('127.0.0.81', port, 'TASKS.Web.')), ['10.213.0.6', '10.213.0.7']);
    assert.deepEqual(ips(await askTcp('127.0.0.81', port, 'tasks.web')), ['10.213.0.6', '10.213.0.7']);
  });

  it('says NOERROR with no records for a known name of another type (no search-domain detour)', async () => {
    const a = await askUdp('127.0.0.81', port, 'web', 'AAAA');
    assert.equal(a.rcode, 'NOERROR');
    assert.deepEqual(a.answers, []);
  });

  it('sends other names upstream and relays the answer; SERVFAIL when no upstream answers', async () => {
    assert.deepEqual(ips(await askUdp('127.0.0.81', port, 'example.org')), ['93.184.216.34']);
    const v6 = await askUdp('127.0.0.81', port, 'example.org', 'AAAA');
    assert.equal(v6.rcode, 'NOERROR', 'the upstream\'s own answer, relayed');
    assert.deepEqual(v6.answers, []);
    const lonePort = await freePort();
    const lone = new DnsServer({ port: lonePort, upstream: ['127.0.0.99'], upstreamPort: lonePort, upstreamTimeoutMs: 200 });
    await lone.apply([zoneA]);
    try {
      assert.equal((await askUdp('127.0.0.81', lonePort, 'example.org')).rcode, 'SERVFAIL');
    } finally {
      await lone.close();
    }
  });

  it('takes new names without reopening, and stops answering a zone removed', async () => {
    await server.apply([{ ...zoneA, names: new Map([['api', ['10.213.1.1']]]) }]);
    assert.deepEqual(ips(await askUdp('127.0.0.81', port, 'api')), ['10.213.1.1']);
    await assert.rejects(askUdp('127.0.0.82', port, 'web'));
    await server.apply([zoneA, zoneB]);
  });

  it('survives garbage and keeps answering', async () => {
    const s = dgram.createSocket('udp4');
    for (const junk of [Buffer.from('hello'), Buffer.alloc(0), Buffer.alloc(600, 0xff)]) s.send(junk, port, '127.0.0.81');
    await new Promise((r) => setTimeout(r, 100));
    s.close();
    const sock = net.connect(port, '127.0.0.81');
    sock.on('error', () => {});
    sock.write(Buffer.from([0, 5, 1, 2, 3, 4, 5]));
    sock.destroy();
    assert.deepEqual(ips(await askUdp('127.0.0.81', port, 'web')), ['10.213.0.5']);
  });

  it('reports an address it cannot listen on instead of failing the rest', async () => {
    const other = new DnsServer({ port });
    const errors = await other.apply([zoneA, { ...zoneB, address: '127.0.0.84' }]);
    try {
      assert.equal(errors.length, 1);
      assert.match(errors[0].message, /127\.0\.0\.81/);
      assert.deepEqual(other.addresses(), ['127.0.0.84']);
    } finally {
      await other.close();
    }
  });

  it('reads the IPv4 nameservers of resolv.conf', () => {
    assert.deepEqual(resolvConfServers('# x\nnameserver 10.0.0.2\nnameserver ::1\n  nameserver 1.1.1.1 \nsearch a\n'), ['10.0.0.2', '1.1.1.1']);
  });
});

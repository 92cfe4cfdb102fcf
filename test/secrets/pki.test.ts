import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { CertificateError, ClusterCa, caFingerprint, certIdentity, makeCsr } from '../../src/secrets/index.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-pki-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A TLS handshake between a server and a client certificate: whether each side accepted the other. */
function handshake(server: { cert: string; key: string; ca: string }, client: { cert: string; key: string; ca: string }): Promise<{ serverSaw: boolean; clientOk: boolean }> {
  return new Promise((resolve) => {
    let serverSaw = false;
    const srv = tls.createServer({ ...server, requestCert: true, rejectUnauthorized: false }, (s) => {
      serverSaw = s.authorized;
      s.end('x');
    });
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      const c = tls.connect({ port, host: '127.0.0.1', ...client, checkServerIdentity: () => undefined }, () => undefined);
      c.on('data', () => {
        c.end();
        srv.close();
        resolve({ serverSaw, clientOk: c.authorized });
      });
      c.on('error', () => {
        srv.close();
        resolve({ serverSaw, clientOk: false });
      });
    });
  });
}

describe('cluster CA', () => {
  it('is made once, kept 0600, and reloaded with the same identity', async () => {
    const ca = await ClusterCa.openOrCreate(join(dir, 'one'));
    assert.equal(statSync(join(dir, 'one', 'ca.key')).mode & 0o777, 0o600);
    const again = await ClusterCa.openOrCreate(join(dir, 'one'));
    assert.equal(again.fingerprint, ca.fingerprint);
    assert.equal(again.clusterId, ca.clusterId);
    assert.match(ca.clusterId, /^[0-9a-f]{16}$/);
    assert.equal(caFingerprint(ca.certPem), ca.fingerprint);
  });

  it('signs a node CSR with the node id, role and cluster, whatever the CSR asked', async () => {
    const ca = await ClusterCa.openOrCreate(join(dir, 'two'));
    const { csrPem } = await makeCsr();
    const cert = await ca.issue(csrPem, 'abc123', 'worker');
    assert.deepEqual(certIdentity(cert), { nodeId: 'abc123', role: 'worker', clusterId: ca.clusterId });
    await assert.rejects(ca.issue('not a csr', 'x', 'worker'), CertificateError);
  });

  it('lets nodes of the same cluster talk mutual TLS, and refuses a node of another cluster', async () => {
    const ca = await ClusterCa.openOrCreate(join(dir, 'three'));
    const other = await ClusterCa.openOrCreate(join(dir, 'four'));
    const m = await makeCsr();
    const server = { cert: await ca.issue(m.csrPem, 'mgr', 'manager', { ips: ['127.0.0.1'] }), key: m.keyPem, ca: ca.certPem };
    const w = await makeCsr();
    const ours = await handshake(server, { cert: await ca.issue(w.csrPem, 'w1', 'worker'), key: w.keyPem, ca: ca.certPem });
    assert.deepEqual(ours, { serverSaw: true, clientOk: true });
    const x = await makeCsr();
    const theirs = await handshake(server, { cert: await other.issue(x.csrPem, 'w9', 'worker'), key: x.keyPem, ca: ca.certPem });
    assert.equal(theirs.serverSaw, false, 'a certificate of another cluster is not authorized');
  });
});

// Join tokens and the cluster record, on the real store and key box.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterIdentity, JoinTokenError, parseJoinToken } from '../../src/daemon/cluster.js';
import { SecretBox } from '../../src/secrets/index.js';
import { openSqliteStore } from '../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-cluster-id-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('cluster identity and join tokens', () => {
  it('gives a worker and a manager token naming the CA, each granting its role; rotation retires the old one', async () => {
    const store = openSqliteStore(join(dir, 'a.db'));
    const box = SecretBox.openOrCreate(join(dir, 'a.key'));
    const id = await ClusterIdentity.open(join(dir, 'a'), store, box);
    const worker = await id.joinToken('worker');
    const manager = await id.joinToken('manager');
    assert.notEqual(worker, manager);
    assert.equal(parseJoinToken(worker).fingerprint, id.ca.fingerprint);
    assert.equal(await id.tokenRole(worker), 'worker');
    assert.equal(await id.tokenRole(manager), 'manager');
    assert.equal(await id.joinToken('worker'), worker, 'the same token until rotated, as Swarm shows it');
    const rotated = await id.joinToken('worker', true);
    assert.notEqual(rotated, worker);
    assert.equal(await id.tokenRole(worker), undefined, 'a rotated token lets no one in');
    assert.equal(await id.tokenRole(rotated), 'worker');
    assert.equal(await id.tokenRole(manager), 'manager', 'rotating one role leaves the other');
    assert.equal(await id.tokenRole('BATON-1-' + '0'.repeat(64) + '-' + 'x'.repeat(24)), undefined, 'another CA');
    assert.equal(await id.tokenRole('nonsense'), undefined);
    // The secrets are sealed in the store, not kept in the clear.
    const files = ['a.db', 'a.db-wal'].filter((f) => existsSync(join(dir, f))).map((f) => readFileSync(join(dir, f), 'latin1')).join('');
    assert.ok(files.includes('cluster'), 'the cluster record was written where this looks');
    assert.ok(!files.includes(parseJoinToken(manager).secret));
    // Reopened (a manager restart): the same cluster, the same tokens.
    const again = await ClusterIdentity.open(join(dir, 'a'), store, box);
    assert.equal(again.clusterId, id.clusterId);
    assert.equal(await again.joinToken('manager'), manager);
    await store.close();
  });

  it('names what is wrong with a malformed token', () => {
    assert.throws(() => parseJoinToken('SWMTKN-1-abc'), JoinTokenError);
  });
});

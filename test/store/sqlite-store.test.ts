import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, ConflictError, CompactedError, type WatchEvent } from '../../src/store/index.js';
import type { NodeInfo } from '../../src/model/types.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (opts?: { historyLimit?: number }) => openSqliteStore(join(dir, `s${n++}.db`), opts);
const node = (id: string, extra: Partial<NodeInfo> = {}): NodeInfo => ({
  id, hostname: id, address: '127.0.0.1', role: 'manager', availability: 'active', labels: {}, capacity: { cpus: 1, memoryBytes: 1 },
  drivers: ['process'], state: 'ready', heartbeatAt: '', ...extra,
});

describe('sqlite store', () => {
  it('versions objects and gives each commit one revision', async () => {
    const s = fresh();
    assert.equal(await s.revision(), 0);
    const r1 = await s.commit([{ type: 'put', kind: 'node', key: 'a', value: node('a') }, { type: 'put', kind: 'node', key: 'b', value: node('b') }]);
    assert.equal(r1, 1);
    const r2 = await s.commit([{ type: 'put', kind: 'node', key: 'a', value: node('a', { hostname: 'x' }), expect: 1 }]);
    assert.equal(r2, 2);
    const a = await s.get('node', 'a');
    assert.equal(a!.version, 2);
    assert.equal(a!.modRevision, 2);
    assert.equal(a!.value.hostname, 'x');
    assert.equal((await s.get('node', 'b'))!.version, 1);
    await s.close();
  });

  it('a failed compare-and-swap applies nothing of its commit', async () => {
    const s = fresh();
    await s.commit([{ type: 'put', kind: 'node', key: 'a', value: node('a') }]);
    await assert.rejects(
      s.commit([{ type: 'put', kind: 'node', key: 'b', value: node('b') }, { type: 'put', kind: 'node', key: 'a', value: node('a'), expect: 7 }]),
      (e: unknown) => e instanceof ConflictError && e.key === 'a' && e.actual === 1,
    );
    assert.equal(await s.get('node', 'b'), undefined);
    assert.equal(await s.revision(), 1);
    await assert.rejects(s.commit([{ type: 'put', kind: 'node', key: 'a', value: node('a'), expect: 0 }]), ConflictError);
    await assert.rejects(s.commit([{ type: 'delete', kind: 'node', key: 'a', expect: 3 }]), ConflictError);
    await s.commit([{ type: 'delete', kind: 'node', key: 'a', expect: 1 }]);
    assert.equal(await s.get('node', 'a'), undefined);
    await s.close();
  });

  it('lists by key prefix', async () => {
    const s = fresh();
    await s.commit(['p/a', 'p/b', 'pq/c', 'q/d'].map((k) => ({ type: 'put' as const, kind: 'node' as const, key: k, value: node(k) })));
    assert.deepEqual((await s.list('node', 'p/')).map((v) => v.key), ['p/a', 'p/b']);
    assert.equal((await s.list('node')).length, 4);
    assert.equal((await s.list('task')).length, 0);
    await s.close();
  });

  it('watch replays history then follows live commits, in order, without a gap', async () => {
    const s = fresh();
    for (let i = 0; i < 5; i++) await s.commit([{ type: 'put', kind: 'node', key: `k${i}`, value: node(`k${i}`) }]);
    const seen: number[] = [];
    const stop = s.watch(2, (evs: WatchEvent[]) => {
      for (const e of evs) seen.push(e.revision);
    });
    assert.deepEqual(seen, [3, 4, 5]);
    for (let i = 5; i < 8; i++) await s.commit([{ type: 'put', kind: 'node', key: `k${i}`, value: node(`k${i}`) }]);
    await s.commit([{ type: 'delete', kind: 'node', key: 'k0' }]);
    stop();
    await s.commit([{ type: 'delete', kind: 'node', key: 'k1' }]);
    assert.deepEqual(seen, [3, 4, 5, 6, 7, 8, 9]);
    await s.close();
  });

  it('watch from a compacted revision says so', async () => {
    const s = fresh({ historyLimit: 10 });
    for (let i = 0; i < 1000; i++) await s.commit([{ type: 'put', kind: 'node', key: 'k', value: node('k') }]);
    assert.throws(() => s.watch(5, () => {}), CompactedError);
    const stop = s.watch(995, () => {});
    stop();
    await s.close();
  });

  it('keeps events, queried since, by project, newest when limited', async () => {
    const s = fresh();
    const got: string[] = [];
    const off = s.onEvent((e) => got.push(e.message));
    await s.appendEvents([{ type: 'x', project: 'p', message: 'one' }, { type: 'x', project: 'q', message: 'two' }, { type: 'x', project: 'p', message: 'three' }]);
    off();
    assert.deepEqual(got, ['one', 'two', 'three']);
    assert.deepEqual((await s.events({ since: 1 })).map((e) => e.message), ['two', 'three']);
    assert.deepEqual((await s.events({ project: 'p' })).map((e) => e.message), ['one', 'three']);
    assert.deepEqual((await s.events({ limit: 1 })).map((e) => e.message), ['three']);
    await s.close();
  });

  it('a commit of 1000 puts is one revision', async () => {
    const s = fresh();
    const rev = await s.commit(Array.from({ length: 1000 }, (_, i) => ({ type: 'put' as const, kind: 'node' as const, key: `n${i}`, value: node(`n${i}`) })));
    assert.equal(rev, 1);
    assert.equal((await s.list('node')).length, 1000);
    assert.ok((await s.list('node')).every((v) => v.modRevision === 1));
    await s.close();
  });

  it('survives kill -9 mid-commit: every committed revision is whole', async () => {
    const path = join(dir, 'killed.db');
    const script = `
      import { openSqliteStore } from ${JSON.stringify(new URL('../../src/store/index.ts', import.meta.url).pathname)};
      const s = openSqliteStore(${JSON.stringify(path)});
      for (let i = 1; ; i++) {
        await s.commit(Array.from({ length: 20 }, (_, j) => ({ type: 'put', kind: 'node', key: 'k' + j, value: { round: i } })));
        if (i === 20) process.stdout.write('go\\n');
      }`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.on('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const s = openSqliteStore(path);
    const rev = await s.revision();
    assert.ok(rev >= 20);
    const rounds = new Set((await s.list('node')).map((v) => (v.value as unknown as { round: number }).round));
    assert.equal(rounds.size, 1, 'all 20 keys come from the same commit');
    assert.equal([...rounds][0], rev, 'and it is the last revision recorded');
    await s.close();
  });
});

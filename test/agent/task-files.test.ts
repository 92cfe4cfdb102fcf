import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvConf, writeTaskFiles } from '../../src/agent/task-files.js';
import type { TaskFile } from '../../src/agent/control-plane.js';

const root = mkdtempSync(join(tmpdir(), 'baton-files-'));
after(() => rmSync(root, { recursive: true, force: true }));
const root0 = process.getuid?.() === 0;

const file = (kind: 'secret' | 'config', target: string, content: string, extra: Partial<TaskFile['ref']> = {}): TaskFile => ({
  ref: { kind, source: target.replace(/\W/g, '_'), key: `k-${target}`, target, ...extra },
  content: Buffer.from(content),
});

describe('task files', () => {
  it('a nameserver gives the task a resolv.conf asking it, with the host\'s search domains and ndots:0', () => {
    const text = resolvConf('10.213.4.5', '# host\nnameserver 10.0.0.2\nsearch corp.example\noptions edns0\n');
    assert.deepEqual(text.split('\n').filter((l) => !l.startsWith('#')), ['nameserver 10.213.4.5', 'search corp.example', 'options ndots:0', '']);
    const w = writeTaskFiles(root, 'r', [], { atTargets: true, nameServer: '10.213.4.5' });
    const f = w.files.find((x) => x.target === '/etc/resolv.conf')!;
    assert.match(readFileSync(f.hostPath, 'utf8'), /^nameserver 10\.213\.4\.5$/m);
    assert.equal(writeTaskFiles(root, 's', [file('config', '/etc/resolv.conf', 'nameserver 1.1.1.1\n')], { atTargets: true, nameServer: '10.213.4.5' }).files.length, 1, 'a config at that target wins');
  });


  it('writes each file with exactly its mode (whatever the umask) and owner, and points the environment at the folder', () => {
    const old = process.umask(0o077);
    try {
      const w = writeTaskFiles(root, 'a', [
        file('secret', 'db', 'pw'),
        file('secret', 'keys/tok', 't', { mode: 0o664, uid: '4242', gid: '4343' }),
        file('config', '/etc/app.conf', 'c'),
      ]);
      const [db, tok, conf] = w.files;
      assert.equal(statSync(db.hostPath).mode & 0o777, 0o400);
      assert.equal(statSync(tok.hostPath).mode & 0o777, 0o664, 'the umask does not take bits away');
      assert.equal(statSync(conf.hostPath).mode & 0o777, 0o444);
      if (root0) assert.deepEqual([statSync(tok.hostPath).uid, statSync(tok.hostPath).gid], [4242, 4343]);
      assert.deepEqual([db.target, tok.target, conf.target], ['/run/secrets/db', '/run/secrets/keys/tok', '/etc/app.conf']);
      assert.deepEqual(w.env, { BATON_SECRETS_DIR: join(root, 'a', 'secrets'), BATON_CONFIGS_DIR: join(root, 'a', 'configs') });
      assert.equal(readFileSync(join(w.env.BATON_SECRETS_DIR, 'keys/tok'), 'utf8'), 't');
      assert.equal(readFileSync(join(w.env.BATON_CONFIGS_DIR, 'etc/app.conf'), 'utf8'), 'c');
    } finally {
      process.umask(old);
    }
  });

  it('at targets, the environment names /run/secrets and /, and a hosts file extends the host\'s', () => {
    const w = writeTaskFiles(root, 'b', [file('secret', 'db', 'pw'), file('config', '/app.conf', 'c')], { atTargets: true, hosts: '127.64.0.9\tdb\n' });
    assert.deepEqual(w.env, { BATON_SECRETS_DIR: '/run/secrets', BATON_CONFIGS_DIR: '/' });
    const hosts = w.files.find((f) => f.target === '/etc/hosts')!;
    assert.equal(hosts.kind, 'config');
    const text = readFileSync(hosts.hostPath, 'utf8');
    assert.ok(text.startsWith('127.64.0.9\tdb\n'), 'baton\'s names come first, so they win');
    assert.ok(text.endsWith(readFileSync('/etc/hosts', 'utf8')), 'then the host\'s own file, whole');
    assert.equal(statSync(hosts.hostPath).mode & 0o777, 0o644);
  });

  it('only the hosts file: no secrets or configs variables; a config at /etc/hosts wins over baton\'s', () => {
    assert.deepEqual(writeTaskFiles(root, 'c', [], { atTargets: true, hosts: '1.2.3.4\tx\n' }).env, {});
    const w = writeTaskFiles(root, 'd', [file('config', '/etc/hosts', 'mine')], { atTargets: true, hosts: '1.2.3.4\tx\n' });
    assert.equal(w.files.length, 1);
    assert.equal(readFileSync(w.files[0].hostPath, 'utf8'), 'mine');
  });
});

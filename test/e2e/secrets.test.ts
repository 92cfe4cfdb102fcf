// Issue 8 end to end: secrets and configs from files, the environment and
// `baton secret create`, delivered to process tasks as files (as root on
// Linux in a mount namespace of their own, at their Compose paths; otherwise
// in a private folder the environment names); rotation by redeploy; refusals
// that change nothing; and a scan proving no value leaks into the store, the
// daemon's and tasks' logs, events or any API answer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Sandbox, freePort, httpGet, waitFor, type PsRow } from '../helpers/baton.js';

const MARK = `m${randomBytes(8).toString('hex')}`;
const VALUES = { db1: `db-${MARK}-one`, db2: `db-${MARK}-two`, token: `token-${MARK}`, ext: `ext-${MARK}` };
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

// Answers with hashes of what it finds in its secret files (never the values), its configs, modes and owners.
// It finds them through BATON_SECRETS_DIR / BATON_CONFIGS_DIR, which name /run/secrets and / in a namespace.
const SERVER = `
import http from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');
const st = (p) => { const x = statSync(p); return (x.mode & 0o777).toString(8) + ' ' + x.uid + ' ' + x.gid; };
const s = process.env.BATON_SECRETS_DIR, c = process.env.BATON_CONFIGS_DIR;
console.log('serving; secrets in ' + s + ', configs in ' + c);
http.createServer((req, res) => {
  console.log('answered ' + req.url);
  res.end(JSON.stringify({
    db: sha(s + '/db_password'), token: sha(s + '/keys/token'), ext: sha(s + '/ext'),
    conf: readFileSync(c + '/etc/app.conf', 'utf8'), plain: readFileSync(c + '/plain_conf', 'utf8'),
    mode: (statSync(s + '/db_password').mode & 0o777).toString(8), token_stat: st(s + '/keys/token'), dir: s, configs: c,
    at_compose_paths: existsSync('/run/secrets/db_password') && existsSync('/etc/app.conf') && existsSync('/plain_conf'),
    task: process.env.BATON_TASK_ID,
  }));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

function compose(project: string, port: number, extSecret = 'ext_key', namespaced = false): string {
  // In a namespace the probe reads the Compose path: probes run where the task runs.
  const probe = namespaced ? '["CMD", "test", "-r", "/run/secrets/db_password"]' : '["CMD-SHELL", "test -r $$BATON_SECRETS_DIR/db_password"]';
  return `name: ${project}
x-baton: {driver: process}
services:
  web:
    command: ["node", "server.mjs"]
    ports: ["${port}:8080"]
    healthcheck: {test: ${probe}, interval: 1s, timeout: 5s, retries: 30}
    secrets:
      - db_password
      - {source: token, target: keys/token, uid: "4242", gid: "4343", mode: 0440}
      - {source: ext, target: ext}
    configs:
      - {source: app_conf, target: /etc/app.conf}
      - plain_conf
secrets:
  db_password:
    file: ./db_password.txt
  token:
    environment: API_TOKEN
  ext:
    external: true
    name: ${extSecret}
configs:
  app_conf:
    content: "mode=production"
  plain_conf:
    content: "plain"
`;
}

/** GET on the daemon's socket: what any API client would be answered. */
function api(home: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ socketPath: join(home, 'baton.sock'), path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((n) => join(dir, n)).filter((p) => statSync(p).isFile());
}

// CI runs as root: there the namespaced suite must run, never skip.
const root = process.platform === 'linux' && process.getuid?.() === 0;
const MODES = [
  { name: 'in a mount namespace, at their Compose paths', namespaced: true, env: {}, skip: !root && !process.env.CI ? 'mount namespaces need root on Linux' : false },
  { name: 'in the task folder (namespaces off)', namespaced: false, env: { BATON_PROCESS_NAMESPACES: '0' }, skip: false },
] as const;

/** Mountpoints of the host that a task's files could have leaked to. */
function leakedMounts(): string[] {
  const suspicious = (m: string): boolean => m.startsWith('/run/secrets') || m === '/etc/app.conf' || m === '/plain_conf' || m === '/etc/hosts';
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[4]).filter(suspicious);
}

/** Processes of a task (its environment names it), in whatever namespace. */
function taskProcesses(taskId: string): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
    try {
      return readFileSync(`/proc/${n}/environ`, 'latin1').split('\0').includes(`BATON_TASK_ID=${taskId}`);
    } catch {
      return false;
    }
  }).map(Number);
}

/**
 * Mount namespaces a process holds open through file descriptors. With no
 * process left in it and no descriptor on it, the kernel ends a namespace.
 * (Its inode number is then reused, so a number alone cannot say it ended.)
 */
function heldNamespaces(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      const l = readlinkSync(`/proc/${pid}/fd/${fd}`);
      return l.startsWith('mnt:[') ? [l] : [];
    } catch {
      return [];
    }
  });
}

/** A task's folder of files on this host (under /dev/shm, else the daemon's home). */
function taskFolder(home: string, taskId: string): string | undefined {
  const roots = existsSync('/dev/shm') ? readdirSync('/dev/shm').filter((n) => n.startsWith('baton-')).map((n) => join('/dev/shm', n)) : [];
  return [...roots, join(home, 'run')].map((r) => join(r, taskId)).find((p) => existsSync(p));
}

interface Answer {
  db: string;
  token: string;
  ext: string;
  conf: string;
  plain: string;
  mode: string;
  token_stat: string;
  dir: string;
  configs: string;
  at_compose_paths: boolean;
  task: string;
}

/** Every value in the forms a leak could take. */
const FORMS = Object.values(VALUES).flatMap((v) => [v, Buffer.from(v).toString('base64'), Buffer.from(v).toString('hex')]);

function assertNoValue(outputs: Record<string, string>): void {
  for (const [where, text] of Object.entries(outputs)) {
    assert.ok(!text.includes(MARK), `a secret value is in ${where}`);
    for (const f of FORMS) assert.ok(!text.includes(f), `an encoded secret value is in ${where}`);
  }
}

/** The daemon's home as a leak would be found there: the store, daemon.log, the tasks' logs, everything but the key and the socket. */
function homeFiles(home: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of filesUnder(home)) if (!f.endsWith('secrets.key') && !f.endsWith('.sock')) out[f] = readFileSync(f).toString('latin1');
  return out;
}

for (const mode of MODES) {
  describe(`secrets and configs: ${mode.name}`, { skip: mode.skip }, () => {
    const sb = new Sandbox();
    const project = `sec${process.pid}${mode.namespaced ? 'n' : 'f'}`;
    const env = { API_TOKEN: VALUES.token, ...mode.env };
    const run = (args: string[], opts: { env?: Record<string, string>; input?: string } = {}): ReturnType<Sandbox['run']> => sb.run(args, { ...opts, env: { ...mode.env, ...opts.env } });
    const ok = (args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<string> => sb.ok(args, { ...opts, env: { ...mode.env, ...opts.env } });
    let port = 0;
    let url = '';
    const answer = async (): Promise<Answer> => JSON.parse((await httpGet(url)).body) as Answer;
    const composeFile = (ext = 'ext_key'): string => compose(project, port, ext, mode.namespaced);
    const hostHad = { conf: existsSync('/etc/app.conf'), plain: existsSync('/plain_conf'), runSecrets: existsSync('/run/secrets') };
    /** The task's mount namespace, by its pid (what ps shows). */
    const taskNamespace = async (): Promise<string> => {
      const pid = (await sb.ps()).find((r) => r.state === 'running')!.pid!;
      return readlinkSync(`/proc/${pid}/ns/mnt`);
    };
    /** A namespace of a task that is gone has ended: no process of the task left, and the daemon holds only running tasks' namespaces. */
    const namespaceEnded = async (taskId: string, running: number): Promise<void> => {
      await waitFor(() => taskProcesses(taskId).length === 0, 10_000, `the processes of task ${taskId} to end`);
      await waitFor(() => heldNamespaces(sb.daemonPid()!).length === running, 10_000, 'the daemon to let the namespace go');
    };

    before(async () => {
      port = await freePort();
      url = `http://127.0.0.1:${port}/`;
      sb.write('server.mjs', SERVER);
      sb.write('db_password.txt', VALUES.db1);
      sb.write('compose.yaml', composeFile());
      // From standard input, as `docker secret create NAME -` takes it. (This command starts the daemon, with mode.env.)
      assert.equal((await ok(['secret', 'create', 'ext_key', '-'], { input: VALUES.ext })).trim(), 'ext_key');
    });

    after(async () => {
      await run(['down']);
      await sb.cleanup();
    });

    it('delivers file, environment and created secrets and configs to the task as files, with their owner and mode', async () => {
      await ok(['up', '-d', '--wait', '--wait-timeout', '60'], { env });
      const a = await answer();
      assert.equal(a.db, sha(VALUES.db1));
      assert.equal(a.token, sha(VALUES.token));
      assert.equal(a.ext, sha(VALUES.ext));
      assert.equal(a.conf, 'mode=production');
      assert.equal(a.plain, 'plain');
      assert.equal(a.mode, '400', 'a secret file is readable by its owner only');
      // Long syntax: uid, gid and mode as asked (a daemon that is not root cannot give files away).
      assert.equal(a.token_stat, root ? '440 4242 4343' : `440 ${process.getuid?.()} ${process.getgid?.()}`);
      const folder = taskFolder(sb.home, a.task);
      assert.ok(folder, 'the task has a folder of files on this host');
      if (existsSync('/dev/shm')) assert.ok(folder.startsWith('/dev/shm/'), `secrets live in memory, not on disk (${folder})`);
      assert.equal(statSync(folder).mode & 0o777, 0o700);
      if (mode.namespaced) {
        assert.deepEqual([a.dir, a.configs, a.at_compose_paths], ['/run/secrets', '/', true], 'at /run/secrets/<name> and each config\'s target, as Compose puts them');
        assert.notEqual(await taskNamespace(), readlinkSync('/proc/self/ns/mnt'));
      } else {
        assert.equal(a.dir, join(folder, 'secrets'));
        assert.equal(a.configs, join(folder, 'configs'));
        assert.equal(a.at_compose_paths, hostHad.conf && hostHad.plain && existsSync('/run/secrets/db_password'));
      }
      // Nothing of the task's reached the host.
      assert.deepEqual(leakedMounts(), []);
      assert.deepEqual({ conf: existsSync('/etc/app.conf'), plain: existsSync('/plain_conf'), runSecrets: existsSync('/run/secrets') }, hostHad);
    });

    it('a changed secret file rolls the service: the new task reads the new value, the old one leaves with its files (and namespace)', async () => {
      const old = await answer();
      const oldFolder = taskFolder(sb.home, old.task)!;
      sb.write('db_password.txt', VALUES.db2);
      await ok(['up', '-d', '--wait', '--wait-timeout', '60'], { env });
      const a = await answer();
      assert.equal(a.db, sha(VALUES.db2));
      assert.notEqual(a.task, old.task);
      assert.ok(!existsSync(oldFolder), 'the replaced task\'s secret folder is removed');
      if (mode.namespaced) await namespaceEnded(old.task, 1);
      assert.match(await ok(['service', 'history', 'web']), /secrets/);
      assert.deepEqual(leakedMounts(), []);
    });

    it('refuses what it cannot deliver, naming the key, and changes nothing', async () => {
      const running = (await sb.ps()).filter((r: PsRow) => r.state === 'running').map((r) => r.id);
      assert.equal(running.length, 1);

      sb.write('compose.yaml', composeFile('no_such_secret'));
      let r = await run(['up', '-d'], { env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /service "web": .*compose\.yaml:11:\d+: services\.web\.secrets\[2\]: /);
      assert.match(r.stderr, /"no_such_secret" is external but does not exist: create it with "baton secret create no_such_secret FILE"/);
      assert.match(r.stderr, /nothing was changed/);

      sb.write('compose.yaml', composeFile());
      r = await run(['up', '-d'], { env: {} });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /compose\.yaml:\d+:\d+: secrets\.token\.environment: environment variable "API_TOKEN" is not set/);

      r = await run(['secret', 'rm', 'ext_key']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /in use by .*\/web/);
      r = await run(['secret', 'create', 'ext_key', join(sb.dir, 'db_password.txt')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /already exists; secrets cannot be changed/);

      assert.deepEqual((await sb.ps()).filter((x) => x.state === 'running').map((x) => x.id), running);
      assert.equal((await answer()).db, sha(VALUES.db2));
    });

    it('no value is found in the store, the daemon\'s or tasks\' logs, events, ps, config, ls/inspect or any API answer', async () => {
      const outputs: Record<string, string> = {
        'ps -a': await ok(['ps', '-a', '--format', 'json']),
        config: await ok(['config'], { env }),
        events: await ok(['events', '--since', '0', '--no-follow', '--json']),
        logs: await ok(['logs']),
        'secret ls': await ok(['secret', 'ls', '--format', 'json']),
        'secret inspect': await ok(['secret', 'inspect', 'ext_key']),
        'config ls': await ok(['config', 'ls']),
        history: await ok(['service', 'history', 'web']),
      };
      for (const path of [`/v1/projects/${project}?all=1`, '/v1/projects', '/v1/secrets', '/v1/secrets/ext_key', '/v1/configs', '/v1/events', `/v1/projects/${project}/services/web/history`, '/v1/nodes']) {
        outputs[`GET ${path}`] = await api(sb.home, path);
      }
      assert.match(outputs['secret ls'], /ext_key/, 'the listing is real');
      Object.assign(outputs, homeFiles(sb.home));
      assertNoValue(outputs);
      const scanned = Object.keys(outputs);
      assert.ok(scanned.some((k) => k.endsWith('state.db')), 'the store file was scanned');
      assert.ok(scanned.some((k) => k.endsWith('daemon.log')), 'the daemon\'s log was scanned');
      // The tasks' own output: both tasks' logs are there and hold what the server printed.
      const taskLogs = scanned.filter((k) => k.startsWith(join(sb.home, 'logs')));
      assert.ok(taskLogs.length >= 1 && taskLogs.every((k) => outputs[k].includes('serving; secrets in')), taskLogs.join(', '));
      assert.match(outputs.logs, /answered \//, 'the task\'s output, through the API, was scanned');
    });

    it('down removes the project\'s secrets and its task files, and leaves no value behind; created secrets stay until rm', async () => {
      const { task } = await answer();
      const folder = taskFolder(sb.home, task)!;
      await ok(['down']);
      assert.ok(!existsSync(folder), 'the task folder is gone');
      assert.deepEqual(taskProcesses(task), []);
      if (mode.namespaced) assert.deepEqual(heldNamespaces(sb.daemonPid()!), [], 'the daemon holds no namespace any more');
      assert.deepEqual(leakedMounts(), []);
      const left = JSON.parse(await ok(['secret', 'ls', '--format', 'json'])) as { name: string }[];
      assert.deepEqual(left.map((s) => s.name), ['ext_key']);
      await ok(['secret', 'rm', 'ext_key']);
      assert.deepEqual(JSON.parse(await ok(['secret', 'ls', '--format', 'json'])), []);
      // After the whole run: the store, the daemon's log and whatever task logs remain.
      assertNoValue({ ...homeFiles(sb.home), events: await ok(['events', '--since', '0', '--no-follow', '--json']) });
    });
  });
}

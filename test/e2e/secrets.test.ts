// Issue 8 end to end: secrets and configs from files, the environment and
// `baton secret create`, delivered to process tasks as files; rotation by
// redeploy; refusals that change nothing; and a scan proving no value leaks
// into the store, logs, events or any API answer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Sandbox, freePort, httpGet, type PsRow } from '../helpers/baton.js';

const MARK = `m${randomBytes(8).toString('hex')}`;
const VALUES = { db1: `db-${MARK}-one`, db2: `db-${MARK}-two`, token: `token-${MARK}`, ext: `ext-${MARK}` };
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

// Answers with hashes of what it finds in its secret files (never the values), its config, and the file mode.
const SERVER = `
import http from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');
const s = process.env.BATON_SECRETS_DIR, c = process.env.BATON_CONFIGS_DIR;
http.createServer((req, res) => {
  res.end(JSON.stringify({
    db: sha(s + '/db_password'), token: sha(s + '/keys/token'), ext: sha(s + '/ext'),
    conf: readFileSync(c + '/etc/app.conf', 'utf8'), mode: (statSync(s + '/db_password').mode & 0o777).toString(8), dir: s,
  }));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

function compose(project: string, port: number, extSecret = 'ext_key'): string {
  return `name: ${project}
x-baton: {driver: process}
services:
  web:
    command: ["node", "server.mjs"]
    ports: ["${port}:8080"]
    secrets:
      - db_password
      - {source: token, target: keys/token}
      - {source: ext, target: ext}
    configs:
      - {source: app_conf, target: /etc/app.conf}
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

describe('secrets and configs', () => {
  const sb = new Sandbox();
  const project = `sec${process.pid}`;
  const env = { API_TOKEN: VALUES.token };
  let port = 0;
  let url = '';
  const answer = async (): Promise<{ db: string; token: string; ext: string; conf: string; mode: string; dir: string }> => JSON.parse((await httpGet(url)).body);

  before(async () => {
    port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    sb.write('server.mjs', SERVER);
    sb.write('db_password.txt', VALUES.db1);
    sb.write('compose.yaml', compose(project, port));
    // From standard input, as `docker secret create NAME -` takes it.
    assert.equal((await sb.ok(['secret', 'create', 'ext_key', '-'], { input: VALUES.ext })).trim(), 'ext_key');
  });

  after(async () => {
    await sb.run(['down']);
    await sb.cleanup();
  });

  it('delivers file, environment and created secrets and a config to the task as files', async () => {
    await sb.ok(['up', '-d', '--wait', '--wait-timeout', '60'], { env });
    const a = await answer();
    assert.equal(a.db, sha(VALUES.db1));
    assert.equal(a.token, sha(VALUES.token));
    assert.equal(a.ext, sha(VALUES.ext));
    assert.equal(a.conf, 'mode=production');
    assert.equal(a.mode, '400', 'a secret file is readable by its owner only');
    if (existsSync('/dev/shm')) assert.ok(a.dir.startsWith('/dev/shm/'), `secrets live in memory, not on disk (${a.dir})`);
    assert.equal(statSync(join(a.dir, '..')).mode & 0o777, 0o700);
  });

  it('a changed secret file rolls the service: the new task reads the new value, the old one leaves with its files', async () => {
    const before = (await answer()).dir;
    sb.write('db_password.txt', VALUES.db2);
    await sb.ok(['up', '-d', '--wait', '--wait-timeout', '60'], { env });
    const a = await answer();
    assert.equal(a.db, sha(VALUES.db2));
    assert.notEqual(a.dir, before);
    assert.ok(!existsSync(before), 'the replaced task\'s secret folder is removed');
    assert.match(await sb.ok(['service', 'history', 'web']), /secrets/);
  });

  it('refuses what it cannot deliver, naming the key, and changes nothing', async () => {
    const running = (await sb.ps()).filter((r: PsRow) => r.state === 'running').map((r) => r.id);
    assert.equal(running.length, 1);

    sb.write('compose.yaml', compose(project, port, 'no_such_secret'));
    let r = await sb.run(['up', '-d'], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /service "web": .*compose\.yaml:10:\d+: services\.web\.secrets\[2\]: /);
    assert.match(r.stderr, /"no_such_secret" is external but does not exist: create it with "baton secret create no_such_secret FILE"/);
    assert.match(r.stderr, /nothing was changed/);

    sb.write('compose.yaml', compose(project, port));
    r = await sb.run(['up', '-d'], { env: {} });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /compose\.yaml:\d+:\d+: secrets\.token\.environment: environment variable "API_TOKEN" is not set/);

    r = await sb.run(['secret', 'rm', 'ext_key']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /in use by .*\/web/);
    r = await sb.run(['secret', 'create', 'ext_key', join(sb.dir, 'db_password.txt')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already exists; secrets cannot be changed/);

    assert.deepEqual((await sb.ps()).filter((x) => x.state === 'running').map((x) => x.id), running);
    assert.equal((await answer()).db, sha(VALUES.db2));
  });

  it('no value is found in the store, logs, events, ps, config, ls/inspect or any API answer', async () => {
    const outputs: Record<string, string> = {
      'ps -a': await sb.ok(['ps', '-a', '--format', 'json']),
      config: await sb.ok(['config'], { env }),
      events: await sb.ok(['events', '--since', '0', '--no-follow', '--json']),
      logs: await sb.ok(['logs']),
      'secret ls': await sb.ok(['secret', 'ls', '--format', 'json']),
      'secret inspect': await sb.ok(['secret', 'inspect', 'ext_key']),
      'config ls': await sb.ok(['config', 'ls']),
      history: await sb.ok(['service', 'history', 'web']),
    };
    for (const path of [`/v1/projects/${project}?all=1`, '/v1/projects', '/v1/secrets', '/v1/secrets/ext_key', '/v1/configs', '/v1/events', `/v1/projects/${project}/services/web/history`, '/v1/nodes']) {
      outputs[`GET ${path}`] = await api(sb.home, path);
    }
    assert.match(outputs['secret ls'], /ext_key/, 'the listing is real');
    for (const f of filesUnder(sb.home)) if (!f.endsWith('secrets.key') && !f.endsWith('.sock')) outputs[f] = readFileSync(f).toString('latin1');
    const forms = Object.values(VALUES).flatMap((v) => [v, Buffer.from(v).toString('base64'), Buffer.from(v).toString('hex')]);
    for (const [where, text] of Object.entries(outputs)) {
      assert.ok(!text.includes(MARK), `a secret value is in ${where}`);
      for (const f of forms) assert.ok(!text.includes(f), `an encoded secret value is in ${where}`);
    }
    assert.ok(Object.keys(outputs).some((k) => k.endsWith('state.db')), 'the store file was scanned');
  });

  it('down removes the project\'s secrets and its task files; created secrets stay until rm', async () => {
    const dir = (await answer()).dir;
    await sb.ok(['down']);
    assert.ok(!existsSync(join(dir, '..')), 'the task folder is gone');
    const left = JSON.parse(await sb.ok(['secret', 'ls', '--format', 'json'])) as { name: string }[];
    assert.deepEqual(left.map((s) => s.name), ['ext_key']);
    await sb.ok(['secret', 'rm', 'ext_key']);
    assert.deepEqual(JSON.parse(await sb.ok(['secret', 'ls', '--format', 'json'])), []);
  });
});

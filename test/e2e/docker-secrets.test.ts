// Issue 8 with the docker driver: a container reads its secret at
// /run/secrets/<name> and its config at its target, bind-mounted read-only
// from the task's memory-backed folder; the value is in no env or label.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { dockerForTests } from '../helpers/docker.js';
import { Sandbox, freePort, httpGet } from '../helpers/baton.js';

const engine = await dockerForTests();
const VALUE = `container-secret-${process.pid}`;

describe('secrets in containers', { skip: engine.skip }, () => {
  const sb = new Sandbox();
  const project = `dks${process.pid}`;
  let port = 0;
  const env = { DOCKER_HOST: engine.host };

  before(async () => {
    port = await freePort();
    sb.write('pw.txt', VALUE);
    sb.write('compose.yaml', `name: ${project}
services:
  app:
    image: ${engine.image}
    init: true
    command: ["sh", "-c", "sha256sum /run/secrets/pw | cut -d' ' -f1 > /tmp/index.html; cat /etc/app.conf >> /tmp/index.html; echo >> /tmp/index.html; (echo x > /run/secrets/pw && echo writable || echo read-only) >> /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    ports: ["${port}:80"]
    secrets: [pw]
    configs: [{source: conf, target: /etc/app.conf}]
secrets:
  pw: {file: ./pw.txt}
configs:
  conf: {content: "level=debug"}
`);
  });

  after(async () => {
    await sb.run(['down', '-v'], { env });
    await sb.cleanup();
    await engine.release();
  });

  it('reads them at their targets, read-only, and nowhere else holds the value', async () => {
    await sb.ok(['up', '-d', '--wait', '--wait-timeout', '120'], { env, timeoutMs: 180_000 });
    const lines = (await httpGet(`http://127.0.0.1:${port}/index.html`)).body.trim().split('\n');
    assert.equal(lines[0], createHash('sha256').update(VALUE).digest('hex'));
    assert.equal(lines[1], 'level=debug');
    assert.equal(lines[2], 'read-only');
    const id = execFileSync('docker', ['ps', '-q', '--filter', `label=com.baton.project=${project}`], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
    const inspect = execFileSync('docker', ['inspect', id], { env: { ...process.env, ...env }, encoding: 'utf8' });
    assert.ok(!inspect.includes(VALUE), 'the value is in the container config');
    const mounts = (JSON.parse(inspect) as { Mounts: { Destination: string; RW: boolean; Source: string }[] }[])[0].Mounts;
    const pw = mounts.find((m) => m.Destination === '/run/secrets/pw');
    assert.ok(pw && !pw.RW, 'the secret is a read-only mount');
    if (process.platform === 'linux') assert.ok(pw.Source.startsWith('/dev/shm/'), `from memory, not disk (${pw.Source})`);
  });
});

// Issue 6 with the docker driver: a 4-replica container service behind a
// published port rolls to a new version, start-first and then stop-first,
// while a client keeps requesting; no request fails.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dockerForTests } from '../helpers/docker.js';
import { Sandbox, freePort, httpGet } from '../helpers/baton.js';

const engine = await dockerForTests();

describe('rolling updates of containers', { skip: engine.skip }, () => {
  const sb = new Sandbox();
  const env = { DOCKER_HOST: engine.host };
  let port = 0;
  const compose = (version: string, order: string): string => `name: droll${process.pid}
services:
  web:
    image: ${engine.image}
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo ${version} > /www/index.html && exec httpd -f -p 80 -h /www"]
    environment: {VERSION: ${version}}
    ports: ["${port}:80"]
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1/index.html"]
      interval: 1s
    deploy:
      replicas: 4
      update_config: {parallelism: 1, order: ${order}, monitor: 500ms}
`;
  const roll = async (version: string, order: string): Promise<{ failed: string[]; ok: number; versions: Set<string> }> => {
    sb.write('compose.yaml', compose(version, order));
    let running = true;
    const failed: string[] = [];
    const versions = new Set<string>();
    let ok = 0;
    const loop = (async () => {
      while (running) {
        try {
          const r = await httpGet(`http://127.0.0.1:${port}/index.html`);
          if (r.status === 200) {
            ok++;
            versions.add(r.body.trim());
          } else failed.push(`HTTP ${r.status}`);
        } catch (err) {
          failed.push((err as Error).message);
        }
      }
    })();
    try {
      await sb.ok(['up', '-d', '--wait', '--wait-timeout', '180'], { env, timeoutMs: 240_000 });
    } finally {
      running = false;
      await loop;
    }
    return { failed, ok, versions };
  };

  before(async () => {
    port = await freePort();
    sb.write('compose.yaml', compose('v1', 'start-first'));
    await sb.ok(['up', '-d', '--wait', '--wait-timeout', '180'], { env, timeoutMs: 240_000 });
  });

  after(async () => {
    await sb.run(['down'], { env });
    await sb.cleanup();
    await engine.release();
  });

  for (const [version, order] of [['v2', 'start-first'], ['v3', 'stop-first']] as const) {
    it(`${order}: no request fails and every replica ends on ${version}`, async () => {
      const seen = await roll(version, order);
      assert.deepEqual(seen.failed, [], `${seen.failed.length} of ${seen.ok + seen.failed.length} requests failed`);
      assert.ok(seen.ok > 10, `the client kept being served (${seen.ok} requests)`);
      assert.ok(seen.versions.has(version), 'the new version answered during the update');
      for (let i = 0; i < 8; i++) assert.equal((await httpGet(`http://127.0.0.1:${port}/index.html`)).body.trim(), version);
      const rows = JSON.parse(await sb.ok(['ps', '--format', 'json'], { env })) as { state: string; health: string }[];
      assert.equal(rows.filter((r) => r.state === 'running' && r.health === 'healthy').length, 4);
    });
  }
});

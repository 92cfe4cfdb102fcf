// A Docker engine that starts after the baton daemon: the daemon looks for it
// again (every few seconds, and before a deploy) and takes it in, so `node ls`
// lists the docker driver and image services run as containers. The engine
// "starts" when its socket appears at the daemon's DOCKER_HOST: a link to the
// test engine's socket, made after the daemon is up.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NodeInfo } from '../../src/model/types.js';
import { dockerForTests } from '../helpers/docker.js';
import { Sandbox, waitFor, type PsRow } from '../helpers/baton.js';

const engine = await dockerForTests();

describe('an engine that starts after the daemon', { skip: engine.skip }, () => {
  const sandboxes: Sandbox[] = [];
  const docker = (...args: string[]): string => execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: engine.host }, encoding: 'utf8' }).trim();

  /** A sandbox whose daemon looks for its engine at a socket that is not there yet; `appear` makes it. */
  const later = (project: string): { sb: Sandbox; env: Record<string, string>; appear: () => void } => {
    const sb = new Sandbox();
    sandboxes.push(sb);
    const socket = join(dirname(sb.home), 'engine.sock');
    sb.write('compose.yaml', `name: ${project}\nservices:\n  app:\n    image: ${engine.image}\n    command: ["sh", "-c", "exec sleep 100000"]\n    init: true\n`);
    return { sb, env: { DOCKER_HOST: `unix://${socket}` }, appear: () => symlinkSync(engine.host.slice('unix://'.length), socket) };
  };
  const drivers = async (sb: Sandbox, env: Record<string, string>): Promise<string[]> => {
    await sb.ok(['ls'], { env }); // starts the daemon when none runs yet (node commands never do)
    return (JSON.parse(await sb.ok(['node', 'ls', '--format', 'json'], { env })) as NodeInfo[])[0].drivers;
  };

  after(async () => {
    for (const sb of sandboxes) {
      await sb.run(['down'], { env: { DOCKER_HOST: engine.host } });
      await sb.cleanup();
    }
    await engine.release();
  });

  it('is found on its own: node ls lists the docker driver, and image services run as containers', async () => {
    const project = `late${process.pid}`;
    const { sb, env, appear } = later(project);
    assert.deepEqual((await drivers(sb, env)).sort(), ['hollow', 'process'], 'no engine yet: no docker driver');
    appear();
    await waitFor(async () => (await drivers(sb, env)).includes('docker'), 20_000, 'node ls to list the docker driver');
    assert.match(sb.daemonLog(), /docker: the engine answers now/);
    await sb.ok(['up', '-d', '--wait'], { env });
    const rows = JSON.parse(await sb.ok(['ps', '--format', 'json'], { env })) as (PsRow & { driver: string })[];
    assert.deepEqual(rows.map((r) => `${r.service}:${r.driver}:${r.state}`), ['app:docker:running']);
    assert.equal(docker('ps', '-q', '--filter', `label=com.baton.project=${project}`).split('\n').filter(Boolean).length, 1);
    assert.equal((await sb.ok(['exec', 'app', 'echo', 'in a container'], { env })).trim(), 'in a container');
  });

  it('is looked for before a deploy: up right after the engine appears runs containers', async () => {
    const project = `soon${process.pid}`;
    const { sb, env, appear } = later(project);
    assert.ok(!(await drivers(sb, env)).includes('docker'));
    appear();
    await sb.ok(['up', '-d', '--wait'], { env });
    const rows = JSON.parse(await sb.ok(['ps', '--format', 'json'], { env })) as (PsRow & { driver: string })[];
    assert.deepEqual(rows.map((r) => `${r.service}:${r.driver}:${r.state}`), ['app:docker:running']);
    assert.ok((await drivers(sb, env)).includes('docker'), 'the node was registered again with the driver');
  });
});

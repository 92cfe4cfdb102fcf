// Registry credentials sent with a deploy (`--with-registry-auth`), against a
// real daemon over its socket: checked field by field, never stored in the
// clear, a new set rolls the service's tasks (they must pull with it) while
// the same set or none leaves them, and `down` forgets them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient, ApiRequestError } from '../../src/api/client.js';
import type { ComposeProject } from '../../src/spec/types.js';
import { loadProject } from '../../src/spec/load.js';
import { Sandbox, waitFor } from '../helpers/baton.js';

describe('registry credentials with a deploy', () => {
  const sb = new Sandbox();
  let daemon: ChildProcess;
  let client: ApiClient;
  const password = `pw-${process.pid}-never-in-the-clear`;
  let project: ComposeProject;
  const auth = (pw: string) => ({ 'registry.example.com': { serveraddress: 'registry.example.com', username: 'ci', password: pw } });
  const taskIds = async (): Promise<string[]> => (await client.status('regauth')).tasks.filter((t) => t.desiredState === 'running').map((t) => t.id).sort();
  /** Every byte the daemon keeps on disk. */
  const onDisk = (dir = sb.home): Buffer[] =>
    readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      const st = statSync(p);
      return st.isDirectory() ? onDisk(p) : st.isFile() ? [readFileSync(p)] : [];
    });

  before(async () => {
    sb.write('compose.yaml', 'name: regauth\nservices:\n  app:\n    image: registry.example.com/team/app:1\n    command: ["sleep", "600"]\n    x-baton: {driver: process}\n');
    project = await loadProject({ cwd: sb.dir, env: {} });
    daemon = sb.spawn(['daemon']);
    client = new ApiClient({ socketPath: join(sb.home, 'baton.sock') });
    await waitFor(() => client.version().then(() => true, () => false), 20_000, 'the daemon');
  });

  after(async () => {
    await client.down('regauth').catch(() => undefined);
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    await sb.cleanup();
  });

  it('refuses malformed credentials naming the field, deploying nothing', async () => {
    const bad = { 'registry.example.com': { serveraddress: 'registry.example.com', username: 'ci', password: 42 } } as never;
    await assert.rejects(client.deploy(project, false, undefined, bad), (e: Error) => e instanceof ApiRequestError && /registryAuth\.registry\.example\.com\.password: expected a string/.test(e.message));
    const noSecret = { 'registry.example.com': { serveraddress: 'registry.example.com', username: 'ci' } } as never;
    await assert.rejects(client.deploy(project, false, undefined, noSecret), /needs username and password, or identitytoken/);
    assert.deepEqual((await client.projects()).map((p) => p.name), []);
  });

  it('keeps them sealed: the password is nowhere on disk in the clear', async () => {
    await client.deploy(project);
    await waitFor(async () => (await taskIds()).length === 1, 10_000, 'a task');
    await client.deploy(project, false, undefined, auth(password));
    await new Promise((r) => setTimeout(r, 300)); // the WAL has it written by now
    for (const bytes of onDisk()) assert.equal(bytes.includes(password), false, 'a file holds the password');
  });

  it('new credentials roll the tasks; the same ones, or a deploy without any, leave them', async () => {
    const first = await taskIds();
    await client.deploy(project, false, undefined, auth('another-password'));
    await waitFor(async () => {
      const now = await taskIds();
      return now.length === 1 && now[0] !== first[0];
    }, 15_000, 'a new task for the new credentials');
    const second = await taskIds();
    await client.deploy(project, false, undefined, auth('another-password'));
    await client.deploy(project);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await taskIds(), second);
  });
});

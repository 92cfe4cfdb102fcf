// Process-driver options a Compose user sets (user, working_dir, stop_signal,
// stop_grace_period, env_file) and the daemon socket's permissions.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, waitFor } from '../helpers/baton.js';

describe('process driver options end to end', () => {
  const sb = new Sandbox();
  after(async () => {
    await sb.run(['down', '-p', 'opts']);
    await sb.cleanup();
  });

  it('honours working_dir, env_file, user, stop_signal and stop_grace_period', async (t) => {
    const root = process.getuid?.() === 0;
    sb.write('sub/marker.txt', 'here\n');
    sb.write('app.env', 'FROM_FILE=yes\n');
    sb.write(
      'compose.yaml',
      `name: opts
x-baton: {driver: process}
services:
  probe:
    command: ["sh", "-c", "cat marker.txt; echo env=$$FROM_FILE; id -u; trap 'echo got-int; exit 0' INT; while true; do sleep 0.1; done"]
    working_dir: ./sub
    env_file: app.env
${root ? '    user: "65534"\n' : ''}    stop_signal: SIGINT
    stop_grace_period: 5s
`,
    );
    await sb.ok(['up', '-d', '--wait']);
    await waitFor(async () => /env=yes/.test(await sb.ok(['logs'])), 10_000, 'output');
    const logs = await sb.ok(['logs', '--no-log-prefix']);
    assert.match(logs, /^here$/m);
    assert.match(logs, /^env=yes$/m);
    if (root) assert.match(logs, /^65534$/m, 'ran as the given uid');
    else t.diagnostic('not root: user: is not tested (run the suite as root to cover it)');
    await sb.ok(['stop']);
    assert.match(await sb.ok(['logs', '--no-log-prefix']), /^got-int$/m, 'stopped with stop_signal, not SIGTERM');
  });

  it('the daemon socket is owner-only', () => {
    const mode = statSync(join(sb.home, 'baton.sock')).mode & 0o777;
    assert.equal(mode, 0o600);
    assert.equal(statSync(sb.home).mode & 0o777, 0o700);
  });
});

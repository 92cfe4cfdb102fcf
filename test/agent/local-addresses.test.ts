import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { parseSubnet } from '../../src/agent/addresses.js';
import { LocalAddresses } from '../../src/agent/local-addresses.js';

const root = process.getuid?.() === 0;
if (!root && process.env.CI === 'true') throw new Error('local address tests need root in CI');

/** The addresses lo holds under baton's label, as `ip` lists them. */
function held(): string[] {
  const out = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', 'lo', 'label', 'lo:baton'], { encoding: 'utf8' });
  return [...out.matchAll(/inet (\S+)\/32/g)].map((m) => m[1]).sort();
}

describe('service addresses on the loopback device', { skip: root ? false : 'skipped: needs root (ip addr add)' }, () => {
  // Blocks of their own, per test process, so runs side by side and other agents on this host are not met.
  const third = process.pid % 200;
  const a = new LocalAddresses(parseSubnet(`10.216.${third}.0/24`));
  const b = new LocalAddresses(parseSubnet(`10.217.${third}.0/24`));
  const ipA = (n: number): string => `10.216.${third}.${n}`;
  const ipB = (n: number): string => `10.217.${third}.${n}`;
  const mine = (): string[] => held().filter((x) => x.startsWith(`10.216.${third}.`) || x.startsWith(`10.217.${third}.`));

  it('adds and removes its own addresses, and leaves another block\'s alone', async () => {
    try {
      assert.equal(await a.sync([ipA(1), ipA(2)]), undefined);
      assert.equal(await b.sync([ipB(1)]), undefined);
      assert.deepEqual(mine(), [ipA(1), ipA(2), ipB(1)]);
      // Overlapping syncs are applied one after the other.
      await Promise.all([a.sync([ipA(2), ipA(3)]), a.sync([ipA(3)])]);
      assert.deepEqual(mine(), [ipA(3), ipB(1)], 'the last sync wins; b\'s address stays');
      await a.clear();
      assert.deepEqual(mine(), [ipB(1)]);
    } finally {
      await a.clear();
      await b.clear();
    }
    assert.deepEqual(mine(), []);
  });

  it('picks up what an earlier process left in its block', async () => {
    execFileSync('ip', ['addr', 'add', `${ipA(9)}/32`, 'dev', 'lo', 'label', 'lo:baton']);
    const again = new LocalAddresses(parseSubnet(`10.216.${third}.0/24`));
    try {
      await again.sync([ipA(4)]);
      assert.deepEqual(mine(), [ipA(4)], 'the stale one went, the wanted one came');
    } finally {
      await again.clear();
    }
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hashedAddresses, inBlock, parseSubnet, SubnetError } from '../../src/agent/addresses.js';

describe('address blocks', () => {
  it('parses a CIDR to its first address and size, from a host address too', () => {
    assert.deepEqual(parseSubnet('10.213.0.0/16'), { base: (10 * 256 + 213) * 65536, size: 65536 });
    assert.deepEqual(parseSubnet('10.213.7.9/24'), parseSubnet('10.213.7.0/24'));
  });

  it('says whether an address lies in a block', () => {
    const b = parseSubnet('10.213.0.0/16');
    assert.ok(inBlock('10.213.0.1', b));
    assert.ok(inBlock('10.213.255.254', b));
    assert.ok(!inBlock('10.214.0.1', b));
    assert.ok(!inBlock('10.212.255.255', b));
    assert.ok(!inBlock('fd00::1', b));
  });

  it('refuses what is not an IPv4 subnet of /8 to /24, saying what it expected', () => {
    for (const bad of ['10.213.0.0', '10.213.0.0/33', '300.1.1.1/16', 'fd00::/64', '10.0.0.0/28', '10.0.0.0/4']) {
      assert.throws(() => parseSubnet(bad), (e: unknown) => e instanceof SubnetError && e.message.includes(bad), bad);
    }
  });

  it('gives every id its own address inside the block, never .0 or .255, the same for the same input', () => {
    const block = parseSubnet('10.9.0.0/23'); // 512 addresses, 4 of them .0 or .255
    const ids = Array.from({ length: 508 }, (_, i) => `id${i}`);
    const a = hashedAddresses(ids, 's', block);
    assert.equal(a.size, 508);
    assert.equal(new Set(a.values()).size, 508, 'no address twice');
    for (const ip of a.values()) {
      assert.match(ip, /^10\.9\.[01]\.\d+$/);
      assert.ok(!/\.(0|255)$/.test(ip), ip);
    }
    assert.deepEqual(hashedAddresses(ids, 's', block), a);
    assert.equal(hashedAddresses(['more'], 's', block, new Set(Array.from({ length: 512 }, (_, i) => i))).size, 0, 'a full block gives nothing');
  });

  it('keeps the older ids where they were when newer ones come', () => {
    const block = parseSubnet('10.9.0.0/16');
    const before = hashedAddresses(['a', 'b', 'c'], 's', block);
    const after = hashedAddresses(['a', 'b', 'c', 'd', 'e'], 's', block);
    for (const id of ['a', 'b', 'c']) assert.equal(after.get(id), before.get(id));
  });
});

import { createHash } from 'node:crypto';
import net from 'node:net';

/** A block of IPv4 addresses: its first address as a number and how many it holds. */
export interface AddressBlock {
  base: number;
  size: number;
}

export class SubnetError extends Error {}

/** "10.213.0.0/16" → its block; a /8 to a /24. */
export function parseSubnet(cidr: string): AddressBlock {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr.trim());
  if (!m || !net.isIPv4(m[1])) throw new SubnetError(`"${cidr}" is not an IPv4 subnet (expected e.g. 10.213.0.0/16)`);
  const bits = Number(m[2]);
  if (bits < 8 || bits > 24) throw new SubnetError(`subnet "${cidr}": the prefix must be between /8 and /24`);
  const size = 2 ** (32 - bits);
  const ip = m[1].split('.').reduce((n, o) => n * 256 + Number(o), 0);
  return { base: ip - (ip % size), size };
}

/** The block as a CIDR, e.g. 10.213.0.0/16. */
export function blockCidr(block: AddressBlock): string {
  return `${formatIPv4(block.base)}/${32 - Math.round(Math.log2(block.size))}`;
}

/** Whether a dotted IPv4 address lies in the block. */
export function inBlock(address: string, block: AddressBlock): boolean {
  if (!net.isIPv4(address)) return false;
  const n = address.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  return n >= block.base && n < block.base + block.size;
}

export function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/**
 * A stable address for each id in a block: where a hash of `salt` and the id
 * lands, or the next free one on a clash (earlier ids first, so callers pass
 * the oldest first and an address moves only when an older neighbour leaves).
 * Addresses ending in .0 or .255 are skipped: some stacks treat them as
 * network or broadcast addresses.
 */
export function hashedAddresses(ids: Iterable<string>, salt: string, block: AddressBlock, taken = new Set<number>()): Map<string, string> {
  const out = new Map<string, string>();
  for (const id of ids) {
    if (out.has(id)) continue;
    const h = createHash('sha256').update(`${salt}\0${id}`).digest().readUInt32BE(0) % block.size;
    for (let i = 0; i < block.size; i++) {
      const n = (h + i) % block.size;
      const last = (block.base + n) % 256;
      if (taken.has(n) || last === 0 || last === 255) continue;
      taken.add(n);
      out.set(id, formatIPv4(block.base + n));
      break;
    }
  }
  return out;
}

import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { type AddressBlock, inBlock } from './addresses.js';

const run = promisify(execFile);

/**
 * The addresses this node holds for service VIPs: /32s on the loopback
 * device under a label of their own, so they are told apart from the host's
 * and can be cleared after a crash. Traffic from a container's bridge to such
 * an address is local to the host, as to any address it holds. Through
 * iproute2's `ip`, as root. Only addresses inside its own block are its to
 * remove: another agent on the same host (a test, or a second daemon) holds
 * its block under the same label.
 */
export class LocalAddresses {
  private held = new Set<string>();
  private loaded = false;
  /** One change at a time: two overlapping syncs would each undo the other's. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly block: AddressBlock,
    private readonly device = 'lo',
    private readonly label = 'lo:baton',
  ) {}

  /** Adds the wanted addresses, removes the others under the label; returns what failed, if anything. */
  sync(wanted: Iterable<string>): Promise<string | undefined> {
    const want = new Set(wanted);
    const next = this.chain.then(() => this.apply(want));
    this.chain = next.catch(() => {});
    return next;
  }

  private async apply(want: Set<string>): Promise<string | undefined> {
    if (!this.loaded) {
      this.held = await this.current();
      this.loaded = true;
    }
    const add = [...want].filter((a) => !this.held.has(a));
    const del = [...this.held].filter((a) => !want.has(a));
    if (add.length === 0 && del.length === 0) return undefined;
    const lines = [
      ...del.map((a) => `addr del ${a}/32 dev ${this.device} label ${this.label}`),
      ...add.map((a) => `addr add ${a}/32 dev ${this.device} label ${this.label}`),
    ];
    const err = await batch(lines);
    // Read back rather than guess which lines of the batch took.
    this.held = await this.current();
    return err;
  }

  async clear(): Promise<void> {
    await this.sync([]);
  }

  private async current(): Promise<Set<string>> {
    const { stdout } = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', this.device, 'label', this.label]);
    return new Set([...stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/32/g)].map((m) => m[1]).filter((a) => inBlock(a, this.block)));
  }
}

/** `ip -force -batch -`: every line is tried; the first errors are returned. */
function batch(lines: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', (e) => resolve(`ip: ${e.message}`));
    p.on('close', (code) => resolve(code === 0 ? undefined : stderr.trim().split('\n').slice(0, 3).join('; ') || `ip exited with ${code}`));
    p.stdin.end(`${lines.join('\n')}\n`);
  });
}

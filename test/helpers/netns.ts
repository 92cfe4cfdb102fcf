// Hosts for cluster tests: network namespaces joined by a bridge, each with
// its own address and ports, so a manager and agents run as on separate
// machines (as root; `ip` from Debian's iproute2).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BIN, drain } from './baton.js';

const PREFIX = 'btn';

export interface NetnsHost {
  name: string;
  ip: string;
}

/** Why these tests cannot run here, or undefined when they can (root, ip, netns). */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (!existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip') && spawnSync('which', ['ip']).status !== 0) {
    if (process.env.CI === 'true') {
      const r = spawnSync('apt-get', ['install', '-y', '-q', 'iproute2'], { stdio: 'inherit' });
      if (r.status !== 0) return 'could not install iproute2';
    } else return 'needs the ip command (apt-get install iproute2)';
  }
  const probe = `${PREFIX}probe${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', probe]);
  spawnSync('ip', ['netns', 'del', probe]);
  return r.status === 0 ? undefined : `ip netns add failed: ${r.stderr.toString().trim()}`;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The pid of the test process that made a namespace or bridge of ours, from its name. */
function ownerPid(name: string): number | undefined {
  const m = /^btn(?:br)?(\d+)/.exec(name);
  return m ? Number(m[1]) : undefined;
}

function alivePid(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes namespaces and bridges left by test runs that were killed; another run's live ones are left alone. */
function sweep(): void {
  const stale = (name: string): boolean => {
    const pid = ownerPid(name);
    return pid !== undefined && pid !== process.pid && !alivePid(pid);
  };
  const list = spawnSync('ip', ['netns', 'list']).stdout.toString();
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    if (name.startsWith(PREFIX) && stale(name)) spawnSync('ip', ['netns', 'del', name]);
  }
  const links = spawnSync('ip', ['-o', 'link', 'show', 'type', 'bridge']).stdout.toString();
  for (const line of links.split('\n')) {
    const m = /^\d+:\s+([^:@]+)/.exec(line);
    if (m && m[1].startsWith(PREFIX) && stale(m[1])) spawnSync('ip', ['link', 'del', m[1]]);
  }
}

export class NetnsLab {
  readonly hosts: NetnsHost[] = [];
  private readonly bridge: string;
  private readonly subnet: string;
  private readonly children: ChildProcess[] = [];

  constructor(count: number) {
    sweep();
    // Named by the whole pid (interface names stay under 16 characters), so runs side by side never meet.
    const id = process.pid;
    this.bridge = `${PREFIX}br${id}`;
    this.subnet = `10.${100 + (id % 100)}.${Math.floor(id / 100) % 250}`;
    ip('link', 'add', this.bridge, 'type', 'bridge');
    ip('addr', 'add', `${this.subnet}.1/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    for (let i = 0; i < count; i++) {
      const name = `${PREFIX}${id}h${i}`;
      const host = { name, ip: `${this.subnet}.${i + 2}` };
      ip('netns', 'add', name);
      ip('link', 'add', `${name}a`, 'type', 'veth', 'peer', 'name', `${name}b`);
      ip('link', 'set', `${name}a`, 'master', this.bridge);
      ip('link', 'set', `${name}a`, 'up');
      ip('link', 'set', `${name}b`, 'netns', name);
      ip('-n', name, 'addr', 'add', `${host.ip}/24`, 'dev', `${name}b`);
      ip('-n', name, 'link', 'set', `${name}b`, 'up');
      ip('-n', name, 'link', 'set', 'lo', 'up');
      this.hosts.push(host);
    }
  }

  /** The host's own address on the lab's bridge: a node outside the namespaces (with the host's Docker engine) is reached here. */
  get gateway(): string {
    return `${this.subnet}.1`;
  }

  /** Runs `baton ARGS` inside a host's namespace (the pid is baton's own: ip execs it). */
  baton(host: NetnsHost, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', host.name, process.execPath, BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    drain(child);
    this.children.push(child);
    return child;
  }

  /** Kills every process left in the namespaces, then removes them and the bridge. */
  cleanup(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const h of this.hosts) {
      const pids = spawnSync('ip', ['netns', 'pids', h.name]).stdout.toString().split('\n').filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      spawnSync('ip', ['netns', 'del', h.name]);
    }
    spawnSync('ip', ['link', 'del', this.bridge]);
  }

  /** The pids of the processes running in a host's namespace. */
  pids(host: NetnsHost): number[] {
    return spawnSync('ip', ['netns', 'pids', host.name]).stdout.toString().split('\n').filter(Boolean).map(Number);
  }
}

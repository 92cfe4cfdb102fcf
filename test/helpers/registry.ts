// A real image registry for tests: Debian's docker-registry (the CNCF
// distribution registry), on 127.0.0.1 with its storage in a temporary
// folder. Engines take registries on 127.0.0.0/8 without TLS by default.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drain, freePort, waitFor } from './baton.js';

const BIN = '/usr/bin/docker-registry';
const onCi = process.env.CI === 'true' || process.env.CI === '1';

export interface TestRegistry {
  /** Set when the registry cannot run here (off CI only). */
  skip?: string;
  /** host:port, the prefix of image names in it. */
  address: string;
  stop(): Promise<void>;
}

const have = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

/**
 * Starts a registry (installing Debian's docker-registry when missing, as
 * root). With `users`, it asks for basic auth (an htpasswd file made with
 * apache2-utils' htpasswd, bcrypt as the registry wants).
 */
export async function registryForTests(opts: { users?: Record<string, string> } = {}): Promise<TestRegistry> {
  const packages = [!have(BIN, ['--version']) && 'docker-registry', opts.users && !existsSync('/usr/bin/htpasswd') && 'apache2-utils'].filter((p): p is string => typeof p === 'string');
  if (packages.length > 0) {
    if (process.getuid?.() !== 0) {
      if (onCi) throw new Error(`registry tests need ${packages.join(' and ')} (apt-get install ${packages.join(' ')}); CI=true: nothing may be skipped`);
      return { skip: `needs Debian's ${packages.join(' and ')} (apt-get install ${packages.join(' ')}), or run the tests as root to have them installed`, address: '', stop: async () => {} };
    }
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // Other test files may be installing packages too: wait for dpkg's lock rather than fail.
    const apt = (...args: string[]): void => void execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], { stdio: 'ignore', env, timeout: 900_000 });
    try {
      apt('install', '-y', '-qq', ...packages);
    } catch {
      apt('update', '-qq');
      apt('install', '-y', '-qq', ...packages);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'baton-test-registry-'));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  let auth = '';
  if (opts.users) {
    const lines = Object.entries(opts.users).map(([user, password]) => execFileSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' }).trim());
    writeFileSync(join(dir, 'htpasswd'), lines.join('\n') + '\n');
    auth = `auth:\n  htpasswd:\n    realm: baton-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: ${address}\n${auth}`);
  const child: ChildProcess = spawn(BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  drain(child);
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}`);
    // 401 when it asks for credentials: up either way.
    return fetch(`http://${address}/v2/`).then((r) => r.ok || r.status === 401, () => false);
  }, 20_000, 'the registry');
  return {
    address,
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// A real image registry for tests: Debian's docker-registry (the CNCF
// distribution registry), on 127.0.0.1 with its storage in a temporary
// folder. Engines take registries on 127.0.0.0/8 without TLS by default.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

function installed(): boolean {
  return spawnSync(BIN, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts a registry (installing Debian's docker-registry when missing, as root). */
export async function registryForTests(): Promise<TestRegistry> {
  if (!installed()) {
    if (process.getuid?.() !== 0) {
      if (onCi) throw new Error('registry tests need docker-registry (apt-get install docker-registry); CI=true: nothing may be skipped');
      return { skip: 'needs Debian\'s docker-registry (apt-get install docker-registry), or run the tests as root to have it installed', address: '', stop: async () => {} };
    }
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // Other test files may be installing packages too: wait for dpkg's lock rather than fail.
    const apt = (...args: string[]): void => void execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], { stdio: 'ignore', env, timeout: 900_000 });
    try {
      apt('install', '-y', '-qq', 'docker-registry');
    } catch {
      apt('update', '-qq');
      apt('install', '-y', '-qq', 'docker-registry');
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'baton-test-registry-'));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: ${address}\n`);
  const child: ChildProcess = spawn(BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  drain(child);
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}`);
    return fetch(`http://${address}/v2/`).then((r) => r.ok, () => false);
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

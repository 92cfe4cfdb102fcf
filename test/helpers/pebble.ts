// Debian's pebble (a test ACME server) for the HTTPS ingress tests: installed
// when missing (as root), started on free ports with its own certificate,
// validation switched off (PEBBLE_VA_ALWAYS_VALID) since the test names do
// not resolve here.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { freePort, waitFor } from './baton.js';

export interface Pebble {
  skip?: string;
  directoryUrl: string;
  /** The certificate of pebble's own HTTPS listener. */
  serverCa: string;
  /** The root that signs the certificates pebble issues (fetched once it runs). */
  root(): Promise<string>;
  stop(): Promise<void>;
}

const onCi = process.env.CI === 'true' || process.env.CI === '1';

export async function startPebble(): Promise<Pebble> {
  if (spawnSync('sh', ['-c', 'command -v pebble'], { stdio: 'ignore' }).status !== 0) {
    if (process.getuid?.() !== 0) {
      if (onCi) throw new Error('pebble is missing and installing it needs root');
      return { skip: 'needs pebble: apt-get install pebble', directoryUrl: '', serverCa: '', root: async () => '', stop: async () => {} };
    }
    execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '-qq', 'pebble'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 });
  }
  const dir = mkdtempSync(join(tmpdir(), 'baton-pebble-'));
  const pems = await generate([{ name: 'commonName', value: 'pebble' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
  });
  writeFileSync(join(dir, 'cert.pem'), pems.cert);
  writeFileSync(join(dir, 'key.pem'), pems.private);
  const port = await freePort();
  const mgmt = await freePort();
  writeFileSync(join(dir, 'pebble.json'), JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${port}`,
      managementListenAddress: `127.0.0.1:${mgmt}`,
      certificate: join(dir, 'cert.pem'),
      privateKey: join(dir, 'key.pem'),
      httpPort: await freePort(),
      tlsPort: await freePort(),
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  }));
  const child: ChildProcess = spawn('pebble', ['-config', join(dir, 'pebble.json')], {
    env: { ...process.env, PEBBLE_VA_ALWAYS_VALID: '1', PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
    stdio: 'ignore',
  });
  const get = (url: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      https.get(url, { ca: pems.cert }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
  const directoryUrl = `https://127.0.0.1:${port}/dir`;
  await waitFor(async () => (await get(directoryUrl).catch(() => ({ status: 0 }))).status === 200, 15_000, 'pebble');
  return {
    directoryUrl,
    serverCa: pems.cert,
    root: async () => (await get(`https://127.0.0.1:${mgmt}/roots/0`)).body,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

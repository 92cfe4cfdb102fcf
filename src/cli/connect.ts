import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { UserError } from './errors.js';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { ApiClient, ApiUnreachableError } from '../api/client.js';

export interface Connection {
  client: ApiClient;
  /** Set for a local daemon. */
  home?: string;
}

export function batonHome(): string {
  return process.env.BATON_HOME || join(homedir(), '.baton');
}

/** BATON_HOST (http://host:port, with BATON_TOKEN) for a remote daemon; else the local one's socket. */
export function connection(): Connection {
  const host = process.env.BATON_HOST;
  if (host) {
    if (!/^https:\/\//.test(host)) throw new UserError(`BATON_HOST: expected https://HOST:PORT (the TCP API speaks TLS only), got "${host}"`);
    const read = (name: string): string | undefined => {
      const file = process.env[name];
      if (!file) return undefined;
      try {
        return readFileSync(file, 'utf8');
      } catch (err) {
        throw new UserError(`${name}: ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
      }
    };
    return { client: new ApiClient({ url: host, token: process.env.BATON_TOKEN, ca: read('BATON_TLS_CA'), cert: read('BATON_TLS_CERT'), key: read('BATON_TLS_KEY') }) };
  }
  const home = batonHome();
  return { client: new ApiClient({ socketPath: join(home, 'baton.sock') }), home };
}

/**
 * A client to a daemon that answers: with no local daemon running, one is
 * started in the background (as pm2 does), its output in $BATON_HOME/daemon.log.
 */
export async function ensureDaemon(): Promise<ApiClient> {
  const conn = connection();
  try {
    await conn.client.version();
    return conn.client;
  } catch (err) {
    if (!(err instanceof ApiUnreachableError) || !conn.home) throw err;
  }
  const home = conn.home;
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const out = openSync(join(home, 'daemon.log'), 'a', 0o600);
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const child = spawn(process.execPath, [main, 'daemon'], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, BATON_HOME: home },
  });
  child.unref();
  const deadline = Date.now() + 15_000;
  let last: unknown;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      await conn.client.version();
      return conn.client;
    } catch (err) {
      last = err;
      if (!(err instanceof ApiUnreachableError)) throw err;
    }
  }
  throw new Error(`the baton daemon did not start within 15s (${(last as Error)?.message ?? 'no answer'}); see ${join(home, 'daemon.log')}`);
}

import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import { alive } from '../../src/drivers/process/procfs.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'bin/baton.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What a child printed and its exit code, once it exits; killed and rejected after `timeoutMs`. */
export function outcome(child: ChildProcessWithoutNullStreams, what: string, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** A baton home of its own (so tests never share a daemon), with helpers to run the real CLI in it. */
export class Sandbox {
  readonly home: string;
  readonly dir: string;
  private readonly root: string;

  constructor() {
    this.root = mkdtempSync(join(tmpdir(), 'baton-test-'));
    this.home = join(this.root, 'home');
    this.dir = join(this.root, 'project');
    mkdirSync(this.dir, { recursive: true });
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, BATON_HOME: this.home };
    delete env.BATON_HOST;
    delete env.COMPOSE_PROJECT_NAME;
    delete env.COMPOSE_PROFILES;
    return { ...env, ...extra };
  }

  write(name: string, text: string): string {
    const p = join(this.dir, name);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    return p;
  }

  run(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? this.dir, env: this.env(opts.env) });
    child.stdin.end(opts.input ?? '');
    return outcome(child, `baton ${args.join(' ')}`, opts.timeoutMs ?? 120_000);
  }

  /** Runs and asserts exit 0, returning stdout. */
  async ok(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): Promise<string> {
    const r = await this.run(args, opts);
    if (r.code !== 0) throw new Error(`baton ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\ndaemon log:\n${this.daemonLog().slice(-3000)}`);
    return r.stdout;
  }

  spawn(args: string[], opts: { env?: Record<string, string> } = {}): ChildProcess {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: this.dir, env: this.env(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    drain(child);
    return child;
  }

  daemonPid(): number | undefined {
    const p = join(this.home, 'daemon.pid');
    if (!existsSync(p)) return undefined;
    const pid = Number(readFileSync(p, 'utf8').trim());
    return alive(pid) ? pid : undefined;
  }

  daemonLog(): string {
    try {
      return readFileSync(join(this.home, 'daemon.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async ps(project?: string): Promise<PsRow[]> {
    const out = await this.ok(['ps', '--format', 'json', ...(project ? ['-p', project] : [])]);
    return JSON.parse(out) as PsRow[];
  }

  /** Stops the daemon (and so every task) and removes the sandbox. */
  async cleanup(): Promise<void> {
    const pid = this.daemonPid();
    if (pid) {
      process.kill(pid, 'SIGTERM');
      await waitFor(() => !alive(pid), 20_000, 'daemon to exit');
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

export interface PsRow {
  id: string;
  project: string;
  service: string;
  slot: number;
  node: string | null;
  state: string;
  health: string;
  pid: number | null;
  ports: { target: number; hostPort: number }[];
  restarts: number;
  revision: number;
  startedAt: string | null;
  error: string | null;
}

/** Running, zombies excluded (this sandbox's init does not reap orphans). */
export { alive };

/**
 * Keeps reading a child's output whether or not the test listens: writes to a
 * full pipe block a Node process (they are synchronous on Linux), so a daemon
 * whose log nobody reads would freeze once 64 KiB had piled up. The test's
 * own listeners, added in the same tick, still see every byte.
 */
export function drain(child: ChildProcess): void {
  child.stdout?.on('data', () => {});
  child.stderr?.on('data', () => {});
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => res(port));
    });
  });
}

/** One GET on a fresh connection (no keep-alive), so each request is balanced on its own, as the mesh balances connections. */
export function httpGet(url: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** Every process whose environment carries BATON_PROJECT=<project> for this home's tasks. */
/** The processes of a project's tasks; health probes, which come and go, only with `probes`. */
export function projectProcesses(project: string, opts: { probes?: boolean } = {}): number[] {
  const out: number[] = [];
  for (const name of readdirSafe('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      if (env.includes(`BATON_PROJECT=${project}`) && (opts.probes || !env.includes('BATON_PROBE=1'))) out.push(Number(name));
    } catch {
      /* gone or not ours */
    }
  }
  return out;
}

function readdirSafe(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}

/** One request to a daemon's TCP API (https, pinned to its certificate). */
export function tlsCall(url: string, opts: { method?: string; token?: string; ca?: string; cert?: string; key?: string; body?: string; timeoutMs?: number } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const req = https.request(url, { method: opts.method ?? 'GET', headers, ca: opts.ca, cert: opts.cert, key: opts.key, timeout: opts.timeoutMs ?? 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} ${url} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

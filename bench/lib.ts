import { spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../bin/baton.js');

export interface BenchHome {
  home: string;
  dir: string;
  baton(args: string[]): { code: number; stdout: string; stderr: string; ms: number };
  daemonPid(): number;
  cleanup(): void;
}

export function benchHome(): BenchHome {
  const root = mkdtempSync(join(tmpdir(), 'baton-bench-'));
  const home = join(root, 'home');
  const dir = join(root, 'project');
  spawnSync('mkdir', ['-p', dir]);
  const env = { ...process.env, BATON_HOME: home };
  const self: BenchHome = {
    home,
    dir,
    baton(args) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: 'utf8', maxBuffer: 64 << 20 });
      const ms = performance.now() - t0;
      if (r.status !== 0) throw new Error(`baton ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
      return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, ms };
    },
    daemonPid() {
      return Number(readFileSync(join(home, 'daemon.pid'), 'utf8').trim());
    },
    cleanup() {
      try {
        process.kill(self.daemonPid(), 'SIGTERM');
      } catch {
        /* not running */
      }
      spawnSync('sleep', ['1']);
      rmSync(root, { recursive: true, force: true });
    },
  };
  writeFileSync(join(dir, '.keep'), '');
  return self;
}

/** Resident memory of a process in MB, from /proc. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU time (user + system) of a process in seconds, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

export { spawn };

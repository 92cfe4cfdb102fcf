import { openSync, writeSync, closeSync, readFileSync, unlinkSync } from 'node:fs';
import { alive } from '../drivers/process/procfs.js';

export class AlreadyRunningError extends Error {
  constructor(readonly pid: number, readonly pidfile: string) {
    super(`a baton daemon is already running (pid ${pid}, ${pidfile})`);
    this.name = 'AlreadyRunningError';
  }
}


function isDaemon(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes('daemon') || argv.includes('manager') || argv.includes('agent');
  } catch {
    return true; // no /proc: trust liveness alone
  }
}

/**
 * Takes the daemon lock: a pidfile created exclusively. A pidfile left by a
 * killed daemon (its pid dead, or reused by another program) is taken over.
 */
export function acquirePidfile(path: string): () => void {
  for (let i = 0; i < 5; i++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let pid = NaN;
      try {
        pid = Number(readFileSync(path, 'utf8').trim());
      } catch {
        continue;
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) && isDaemon(pid)) throw new AlreadyRunningError(pid, path);
      try {
        unlinkSync(path);
      } catch {
        /* another starter removed it first */
      }
    }
  }
  throw new Error(`could not take the daemon lock ${path}`);
}

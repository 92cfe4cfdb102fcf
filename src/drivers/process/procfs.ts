import { readFileSync, readdirSync } from 'node:fs';
import { constants } from 'node:os';

/** Kernel start time (jiffies after boot) of a process, or undefined when it is gone. */
export function pidStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[19]); // field 22 overall
  } catch {
    return undefined;
  }
}

/** Pids whose environment holds `entry` exactly (e.g. BATON_INSTANCE=abc). */
export function pidsWithEnv(entry: string): number[] {
  const out: number[] = [];
  let names: string[] = [];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(entry)) out.push(Number(name));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}

/** Whether a process still runs. A zombie does not: it is dead, waiting for a parent (or an init that may never reap it). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true; // no /proc: the signal check is all we have
  }
}

/** "SIGTERM", "TERM", "15" → "SIGTERM". */
export function signalName(s: string | number): NodeJS.Signals {
  const text = String(s).trim().toUpperCase();
  const sigs = constants.signals as Record<string, number>;
  if (/^\d+$/.test(text)) {
    const found = Object.entries(sigs).find(([, n]) => n === Number(text));
    if (found) return found[0] as NodeJS.Signals;
  } else {
    const name = text.startsWith('SIG') ? text : `SIG${text}`;
    if (name in sigs) return name as NodeJS.Signals;
  }
  throw new Error(`unknown signal "${s}"`);
}

/** Signals a whole process group; false when it is gone. */
export function killGroup(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch {
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  }
}

/** uid/gid for a Compose `user:` ("1000", "1000:1000", "app", "app:staff"), from /etc/passwd and /etc/group. */
export function lookupUser(user: string): { uid: number; gid: number } {
  const [u, g] = user.split(':');
  const passwd = readLines('/etc/passwd').map((l) => l.split(':'));
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const entry = passwd.find((p) => Number(p[2]) === uid);
    gid = entry ? Number(entry[3]) : uid;
  } else {
    const entry = passwd.find((p) => p[0] === u);
    if (!entry) throw new Error(`user "${u}" not found in /etc/passwd`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const entry = readLines('/etc/group').map((l) => l.split(':')).find((p) => p[0] === g);
      if (!entry) throw new Error(`group "${g}" not found in /etc/group`);
      gid = Number(entry[2]);
    }
  }
  return { uid, gid };
}

function readLines(p: string): string[] {
  try {
    return readFileSync(p, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  } catch {
    return [];
  }
}

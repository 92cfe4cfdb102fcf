// A private mount namespace per process task, so that its secrets and configs
// appear at their Compose paths (/run/secrets/<name>, a config's target) and a
// hosts file of its own sits over /etc/hosts, while the host sees none of it.
//
// How: a short-lived "holder" (`unshare --mount` running a small sh script)
// builds the mounts, says "ready" and waits; the driver keeps the namespace
// alive through an open file descriptor on /proc/<holder>/ns/mnt, lets the
// holder go, and starts the task with `nsenter --mount=<that fd>`, which execs
// the program itself: the pid the driver tracks is the program's, its
// environment is passed untouched (sh would drop names it cannot hold), and
// signals reach it directly. Mounts made inside never propagate to the host
// (propagation private), and the namespace ends with the last process in it.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, lstatSync, openSync, readdirSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';

/** Where the helper programs are looked for; never the task's PATH. */
const SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const READY = 'ready';
/** A private tmpfs only holds mountpoints and what a task writes beside them; this bounds the latter. */
const TMPFS_SIZE = '16m';

export interface NamespaceTools {
  unshare: string;
  nsenter: string;
  sh: string;
}

/** A problem with the files to place (a target that cannot be a file): the task's spec is at fault. */
export class MountPlanError extends Error {
  override name = 'MountPlanError';
}

/** The mount setup failed on this host. */
export class NamespaceError extends Error {
  override name = 'NamespaceError';
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The util-linux programs, when this daemon may use mount namespaces: root on
 * Linux, the programs present (nsenter new enough for --wdns), and unshare
 * allowed here (a container without CAP_SYS_ADMIN refuses it). Checked once.
 */
export function findNamespaceTools(): NamespaceTools | undefined {
  if (found === undefined) found = { tools: probeTools() };
  return found.tools;
}

let found: { tools: NamespaceTools | undefined } | undefined;

function probeTools(): NamespaceTools | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return undefined;
  const find = (name: string): string | undefined => SYSTEM_PATH.split(':').map((d) => join(d, name)).find(executable);
  const unshare = find('unshare');
  const nsenter = find('nsenter');
  const sh = find('sh');
  if (!unshare || !nsenter || !sh || !find('mount') || !find('mkdir') || !find('ln')) return undefined;
  const env = { PATH: SYSTEM_PATH, LC_ALL: 'C' };
  const help = spawnSync(nsenter, ['--help'], { env, encoding: 'utf8', timeout: 5_000 });
  if (!`${help.stdout}`.includes('--wdns')) return undefined;
  const probe = spawnSync(unshare, ['--mount', '--propagation', 'private', '--', sh, '-c', 'exit 0'], { env, stdio: 'ignore', timeout: 5_000 });
  return probe.status === 0 ? { unshare, nsenter, sh } : undefined;
}

/** One file to show at a path inside the namespace, read-only. */
export interface MountFile {
  source: string;
  target: string;
}

/** A bind mount: `rbind` to bring back a host entry, `bind,ro,nosuid,nodev` for a file. */
export interface BindMount {
  from: string;
  to: string;
  options: string;
}

/**
 * One step of the holder script. `binds` are made by one `mount -a` over a
 * table written at `table` (one exec for a whole folder's entries, not one
 * each); unless `strict`, those that fail are let go (an entry that vanished
 * between planning and mounting). Every other step failing fails the start.
 */
export type MountOp =
  | { op: 'tmpfs'; dir: string; options: string }
  | { op: 'umount'; dir: string }
  | { op: 'move'; from: string; to: string }
  | { op: 'binds'; table: string; strict: boolean; mounts: BindMount[] }
  | { op: 'mkdir'; dirs: string[] }
  | { op: 'file'; path: string }
  | { op: 'link'; value: string; path: string };

const READ_ONLY = 'bind,ro,nosuid,nodev';
const TABLE = '.baton-mounts';

type Kind = 'dir' | 'file';

/**
 * Plans the mounts that put each file at its target, touching nothing on the
 * host. A target that exists on the host (as /etc/hosts does) is bind-mounted
 * over. A missing one needs a mountpoint, and creating it on the host is
 * exactly what must not happen; so its nearest existing folder is replaced,
 * inside the namespace only, by a private tmpfs that "mimics" it: every entry
 * of the original is bind-mounted back (symlinks recreated), so the task still
 * sees and writes the host's files there, and the new mountpoints live on the
 * tmpfs. Each such tmpfs is assembled in `work` (an empty folder) and moved
 * over its folder in one step, deepest first, so the folder never appears
 * half-built and a mimic of "/" (a config's default target is /<name>) comes
 * last. `empty` folders (/run/secrets) get a private tmpfs without the host's
 * entries: a host that has its own /run/secrets does not show it to tasks.
 *
 * A mimicked folder shows the entries it had when the task started; entries
 * the host adds later at that level are not seen (their contents are live).
 */
export function planMounts(files: MountFile[], opts: { work: string; empty?: string[] }): MountOp[] {
  const roots = new Map<string, 'mimic' | 'empty'>();
  const created = new Map<string, Kind>();
  const direct: MountFile[] = [];
  const inTree: MountFile[] = [];
  const placed = new Set<string>();

  const hidden = (p: string): boolean => [...roots].some(([r, k]) => k === 'empty' && p !== r && p.startsWith(r === '/' ? '/' : `${r}/`));
  const kindOf = (p: string): Kind | undefined => {
    const c = created.get(p);
    if (c || hidden(p)) return c;
    const st = lstatOrUndefined(p);
    if (!st) return undefined;
    return st.isDirectory() ? 'dir' : 'file';
  };
  const makePrivate = (d: string): void => {
    if (created.get(d) === 'dir' || roots.has(d)) return;
    roots.set(d, 'mimic');
  };
  const ensureDir = (d: string): void => {
    const k = kindOf(d);
    if (k === 'dir') return;
    if (k) throw new MountPlanError(`"${d}" is not a directory`);
    const parent = dirname(d);
    ensureDir(parent);
    makePrivate(parent);
    created.set(d, 'dir');
  };

  for (const e of opts.empty ?? []) {
    const d = hostPath(e);
    if (kindOf(d) === 'dir' && !created.has(d)) roots.set(d, 'empty');
    else ensureDir(d);
  }
  for (const f of [...files].sort((a, b) => a.target.localeCompare(b.target))) {
    const t = hostPath(f.target);
    if (t === '/' || placed.has(t)) throw new MountPlanError(`two files for "${f.target}"`);
    placed.add(t);
    const k = kindOf(t);
    if (k === 'dir') throw new MountPlanError(`target "${f.target}" is a directory`);
    if (k === 'file' && !created.has(t)) {
      direct.push({ source: f.source, target: t });
      continue;
    }
    ensureDir(dirname(t));
    makePrivate(dirname(t));
    created.set(t, 'file');
    inTree.push({ source: f.source, target: t });
  }

  const rootOf = (p: string): string => {
    for (let d = dirname(p); ; d = dirname(d)) {
      if (roots.has(d)) return d;
      if (d === '/') throw new Error(`internal: no private folder above ${p}`);
    }
  };
  const ops: MountOp[] = [];
  if (direct.length > 0) {
    // The table needs a private place to be written: a tmpfs over `work` for that moment.
    ops.push(
      { op: 'tmpfs', dir: opts.work, options: 'mode=0700,size=1m' },
      { op: 'binds', table: join(opts.work, TABLE), strict: true, mounts: direct.map((f) => ({ from: f.source, to: f.target, options: READ_ONLY })) },
      { op: 'umount', dir: opts.work },
    );
  }
  const depth = (p: string): number => (p === '/' ? 0 : p.split('/').length);
  for (const [root, kind] of [...roots].sort((a, b) => depth(b[0]) - depth(a[0]) || a[0].localeCompare(b[0]))) {
    const inWork = (p: string): string => join(opts.work, relative(root, p));
    const st = statSync(root);
    const owner = kind === 'mimic' ? `mode=${(st.mode & 0o7777).toString(8).padStart(4, '0')},uid=${st.uid},gid=${st.gid}` : 'mode=0755,uid=0,gid=0';
    ops.push({ op: 'tmpfs', dir: opts.work, options: `${owner},size=${TMPFS_SIZE}` });
    const dirs: string[] = [];
    const after: MountOp[] = [];
    const back: BindMount[] = [];
    if (kind === 'mimic') {
      // The entry holding `work` is bound first, while the tmpfs being built there is still empty: its copy inside is then empty too.
      const holdsWork = (name: string): boolean => `${opts.work}/`.startsWith(`${join(root, name)}/`);
      const entries = readdirSync(root, { withFileTypes: true }).sort((a, b) => Number(holdsWork(b.name)) - Number(holdsWork(a.name)));
      for (const e of entries) {
        const from = join(root, e.name);
        const to = join(opts.work, e.name);
        if (e.isSymbolicLink()) {
          after.push({ op: 'link', value: readlinkSync(from), path: to });
          continue;
        }
        if (e.isDirectory()) dirs.push(to);
        else after.push({ op: 'file', path: to });
        back.push({ from, to, options: 'rbind' });
      }
    }
    const mine = [...created].filter(([p]) => rootOf(p) === root).sort((a, b) => a[0].localeCompare(b[0]));
    for (const [p, k] of mine) if (k === 'dir') dirs.push(inWork(p));
    if (dirs.length > 0) ops.push({ op: 'mkdir', dirs });
    ops.push(...after);
    for (const [p, k] of mine) if (k === 'file') ops.push({ op: 'file', path: inWork(p) });
    const table = join(opts.work, TABLE);
    if (back.length > 0) ops.push({ op: 'binds', table, strict: false, mounts: back });
    const own = inTree.filter((f) => rootOf(f.target) === root).map((f) => ({ from: f.source, to: inWork(f.target), options: READ_ONLY }));
    if (own.length > 0) ops.push({ op: 'binds', table, strict: true, mounts: own });
    ops.push({ op: 'move', from: opts.work, to: root });
  }
  return ops;
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

/**
 * A target as the host's filesystem has it: normalized, with symlinks in its
 * existing part resolved (mount follows them too, and the plan must look at
 * the folder the mount really lands in). A dangling symlink is refused.
 */
export function hostPath(target: string): string {
  if (!target.startsWith('/')) throw new MountPlanError(`target "${target}" is not an absolute path`);
  const parts = posix.normalize(target).split('/').filter(Boolean);
  let cur = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = join(cur, parts[i]);
    const st = lstatOrUndefined(next);
    if (!st) return join(next, ...parts.slice(i + 1));
    if (st.isSymbolicLink()) {
      try {
        cur = realpathSync(next);
      } catch {
        throw new MountPlanError(`target "${target}": "${next}" is a symbolic link to nowhere`);
      }
    } else cur = next;
  }
  return cur;
}

// Reads steps as "<op> <argc> <args...>" from its arguments. Only positional
// parameters are expanded, and eval only ever sees "${N}" references, so no
// path is parsed as shell text. mount -n: the host's /run/mount/utab is not
// this namespace's to write.
const SCRIPT = `set -e
refs() { R=''; i=1; while [ $i -le $1 ]; do R="$R \\"\\\${$i}\\""; i=$((i+1)); done; }
while [ $# -gt 0 ]; do
  op=$1; n=$2; shift 2
  case $op in
    tmpfs) mount -n -t tmpfs -o "$2" tmpfs "$1" ;;
    umount) umount -n "$1" ;;
    move) mount -n --move "$1" "$2" ;;
    file) : > "$1" ;;
    link) ln -s -- "$1" "$2" ;;
    mkdir) refs $n; eval "mkdir -m 0755 -- $R" ;;
    binds)
      t=$1; strict=$2; shift 2; n=$((n - 2)); refs $n
      eval "printf '%s\\\\n' $R" > "$t"
      if [ "$strict" = 1 ]; then mount -n -a --fstab "$t"; else mount -n -a --fstab "$t" 2>/dev/null || :; fi
      rm -f -- "$t" ;;
    *) echo "unknown step $op" >&2; exit 2 ;;
  esac
  shift $n
done
echo ${READY}
read _ || :
`;

/** A path as an fstab field: whitespace, "#" and "\\" as octal escapes, which libmount reads back. */
function fstabField(p: string): string {
  return p.replace(/[\s#\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

function encode(ops: MountOp[]): string[] {
  const out: string[] = [];
  const push = (op: string, args: string[]): void => void out.push(op, String(args.length), ...args);
  for (const o of ops) {
    switch (o.op) {
      case 'tmpfs':
        push(o.op, [o.dir, o.options]);
        break;
      case 'mkdir':
        push(o.op, o.dirs);
        break;
      case 'umount':
        push(o.op, [o.dir]);
        break;
      case 'binds':
        push(o.op, [o.table, o.strict ? '1' : '0', ...o.mounts.map((m) => `${fstabField(m.from)} ${fstabField(m.to)} none ${m.options} 0 0`)]);
        break;
      case 'file':
        push(o.op, [o.path]);
        break;
      case 'link':
        push(o.op, [o.value, o.path]);
        break;
      default:
        push(o.op, [o.from, o.to]);
    }
  }
  return out;
}

/** A mount namespace held open by this daemon through a file descriptor; closing it lets the namespace end with its last process. */
export class MountNamespace {
  constructor(private fd: number) {}

  /** A path other processes of this daemon's user can hand to nsenter --mount. */
  get path(): string {
    return `/proc/${process.pid}/fd/${this.fd}`;
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

/** Builds a namespace with the planned mounts. Rejects with NamespaceError (the holder's own words) when a step fails. */
export function openNamespace(tools: NamespaceTools, ops: MountOp[], timeoutMs = 15_000): Promise<MountNamespace> {
  return new Promise((resolve, reject) => {
    const holder = spawn(tools.unshare, ['--mount', '--propagation', 'private', '--', tools.sh, '-c', SCRIPT, 'baton-ns', ...encode(ops)], {
      env: { PATH: SYSTEM_PATH, LC_ALL: 'C' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let settled = false;
    const fail = (msg: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      holder.kill('SIGKILL');
      reject(new NamespaceError(msg));
    };
    const timer = setTimeout(() => fail(`mount setup did not finish in ${timeoutMs} ms`), timeoutMs);
    holder.on('error', (e) => fail(`could not run ${tools.unshare}: ${e.message}`));
    holder.stdin!.on('error', () => undefined);
    holder.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (err.length < 4096) err += d;
    });
    holder.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (settled || !out.includes(`${READY}\n`)) return;
      let fd: number;
      try {
        // Opened while the holder waits, so it is the namespace just built; from now on this fd keeps it.
        fd = openSync(`/proc/${holder.pid}/ns/mnt`, 'r');
      } catch (e) {
        return fail(`could not open the new mount namespace: ${(e as Error).message}`);
      }
      settled = true;
      clearTimeout(timer);
      holder.stdin!.end();
      resolve(new MountNamespace(fd));
    });
    holder.on('exit', (code, signal) => fail(err.trim() || `mount setup ended with ${signal ?? `code ${code}`}`));
  });
}

/** nsenter's arguments to run argv inside the namespace, in `wd` there, as uid:gid (supplementary groups dropped, as node's spawn does). */
export function enterArgs(ns: MountNamespace, opts: { wd: string; uid?: number; gid?: number }, argv: string[]): string[] {
  const ids = opts.uid !== undefined ? ['-S', String(opts.uid), '-G', String(opts.gid ?? opts.uid)] : [];
  return [`--mount=${ns.path}`, `--wdns=${opts.wd}`, '-F', ...ids, '--', ...argv];
}

// Secrets and configs as files on this host, one private folder per task.
// The folder lives on a memory-backed filesystem when the host has one, so a
// secret never reaches a disk; it is removed as soon as the task is gone.
// Containers, and process tasks in a mount namespace of their own, see each
// file at its target; other process tasks are told the folder in environment
// variables (BATON_SECRETS_DIR, BATON_CONFIGS_DIR).
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import type { TaskFileRef } from '../model/types.js';
import type { TaskFile } from './control-plane.js';

export interface WrittenFile {
  kind: TaskFileRef['kind'];
  /** Where the value is on this host. */
  hostPath: string;
  /** Where a container sees it: /run/secrets/<target> for relative secret targets, /<target> for configs. */
  target: string;
  uid?: number;
  gid?: number;
}

export interface WrittenFiles {
  dir: string;
  files: WrittenFile[];
  /** For process tasks: where their secrets and configs are (their folder, or /run/secrets and / when they see targets). */
  env: Record<string, string>;
}

export interface TaskFilesOptions {
  /** The task sees each file at its target: env then names /run/secrets and / rather than the folder. */
  atTargets?: boolean;
  /**
   * Lines for the task's /etc/hosts, put before the host's own; the file is
   * one more entry with target /etc/hosts (unless a config already has that target).
   */
  hosts?: string;
  /**
   * A nameserver address: the task gets a resolv.conf of its own that asks
   * it (its project's DNS, see serviceVips), keeping the host's search domains.
   */
  nameServer?: string;
}

/** The host's hosts file, which a task's own extends. */
const HOST_HOSTS = '/etc/hosts';
const HOST_RESOLV = '/etc/resolv.conf';

/** resolv.conf for a task asking `server`: the host's search domains kept; ndots:0 so `web` is asked as it is first, as Docker does. */
export function resolvConf(server: string, hostText: string): string {
  const search = hostText.split('\n').filter((l) => /^\s*(search|domain)\s/.test(l));
  return [`# baton: the project's service names, then the host's nameservers (through baton's DNS)`, `nameserver ${server}`, ...search, 'options ndots:0', ''].join('\n');
}

/** A memory-backed place for this daemon's task files (/dev/shm), else under its home. */
export function taskFilesRoot(home: string, instance: string): string {
  const shm = '/dev/shm';
  try {
    if (statSync(shm).isDirectory()) {
      const root = join(shm, `baton-${instance}`);
      mkdirSync(root, { recursive: true, mode: 0o700 });
      return root;
    }
  } catch {
    /* no /dev/shm here */
  }
  const root = join(home, 'run');
  mkdirSync(root, { recursive: true, mode: 0o700 });
  return root;
}

/** The path inside a container for a reference's target. */
export function containerTarget(ref: Pick<TaskFileRef, 'kind' | 'target'>): string {
  if (ref.target.startsWith('/')) return posix.normalize(ref.target);
  return ref.kind === 'secret' ? posix.join('/run/secrets', ref.target) : posix.join('/', ref.target);
}

const numeric = (s: string | undefined): number | undefined => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);

export function writeTaskFiles(root: string, taskId: string, files: TaskFile[], opts: TaskFilesOptions = {}): WrittenFiles {
  const dir = join(root, taskId);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const out: WrittenFile[] = [];
  const secretsDir = join(dir, 'secrets');
  const configsDir = join(dir, 'configs');
  for (const { ref, content } of files) {
    const target = containerTarget(ref);
    // /run/secrets/x lands at <dir>/secrets/x; any other absolute target keeps its path under the kind's folder.
    const rel = ref.kind === 'secret' && target.startsWith('/run/secrets/') ? target.slice('/run/secrets/'.length) : target.slice(1);
    const base = ref.kind === 'secret' ? secretsDir : configsDir;
    const hostPath = resolve(base, rel);
    if (relative(base, hostPath).startsWith('..')) throw new Error(`${ref.kind} "${ref.source}": target "${ref.target}" leaves its folder`);
    mkdirSync(dirname(hostPath), { recursive: true, mode: 0o700 });
    const mode = ref.mode ?? (ref.kind === 'secret' ? 0o400 : 0o444);
    writeFileSync(hostPath, content, { mode });
    chmodSync(hostPath, mode); // exactly the mode asked for, whatever the daemon's umask
    const uid = numeric(ref.uid);
    const gid = numeric(ref.gid);
    if ((uid !== undefined || gid !== undefined) && process.getuid?.() === 0) chownSync(hostPath, uid ?? 0, gid ?? 0);
    out.push({ kind: ref.kind, hostPath, target, ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}) });
  }
  // Seen at their targets, $BATON_SECRETS_DIR/<target> and $BATON_CONFIGS_DIR/<target> still name the files.
  const env: Record<string, string> = {};
  if (out.some((f) => f.kind === 'secret')) env.BATON_SECRETS_DIR = opts.atTargets ? '/run/secrets' : secretsDir;
  if (out.some((f) => f.kind === 'config')) env.BATON_CONFIGS_DIR = opts.atTargets ? '/' : configsDir;
  // The task's own copy of a host file, made from the host's (unless a config already sits at that target).
  const overlay = (target: string, name: string, make: (host: string) => string): void => {
    if (out.some((f) => f.target === target)) return;
    let host = '';
    try {
      host = readFileSync(target, 'utf8');
    } catch {
      /* the host has none */
    }
    const hostPath = join(dir, name);
    writeFileSync(hostPath, make(host), { mode: 0o644 });
    out.push({ kind: 'config', hostPath, target });
  };
  const hosts = opts.hosts;
  if (hosts !== undefined) overlay(HOST_HOSTS, 'hosts', (host) => `${hosts}${hosts && !hosts.endsWith('\n') ? '\n' : ''}# the host's ${HOST_HOSTS}\n${host}`);
  const server = opts.nameServer;
  if (server !== undefined) overlay(HOST_RESOLV, 'resolv.conf', (host) => resolvConf(server, host));
  return { dir, files: out, env };
}

export function removeTaskFiles(root: string, taskId: string): void {
  rmSync(join(root, taskId), { recursive: true, force: true });
}

/** Folders of tasks no longer running here (after a daemon restart). */
export function pruneTaskFiles(root: string, keep: Set<string>): void {
  if (!existsSync(root)) return;
  for (const name of readdirSync(root)) if (!keep.has(name)) rmSync(join(root, name), { recursive: true, force: true });
}

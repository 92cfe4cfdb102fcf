// Normalization to Compose's long syntax: what `docker compose config` prints.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { readDotenv } from './dotenv.js';
import type { Env } from './interpolate.js';
import { PORT_SYNTAX } from './schema.js';
import { shellSplit } from './shell.js';
import { recordPortOrigins } from './checks.js';
import { isObj, type Json, type Obj, type Path } from './yaml-source.js';
import type { BuildConfig, DependsOnConfig, FileReferenceConfig, PortConfig, ServiceConfig, VolumeMountConfig } from './types.js';

export type Fail = (path: Path, message: string) => void;

/** Expands one port entry; ranges give one entry per port, as Compose does. */
export function parsePort(p: Json): PortConfig[] {
  if (typeof p === 'number') return [{ mode: 'ingress', target: p, protocol: 'tcp' }];
  if (typeof p === 'string') {
    const bad = (): Error => new Error(`invalid port "${p}": expected "[[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]"`);
    if (!PORT_SYNTAX.test(p)) throw bad();
    const slash = p.lastIndexOf('/');
    const proto = slash >= 0 ? p.slice(slash + 1) : undefined;
    const body = slash >= 0 ? p.slice(0, slash) : p;
    const c1 = body.lastIndexOf(':');
    const target = body.slice(c1 + 1);
    const rest = c1 >= 0 ? body.slice(0, c1) : undefined;
    const c2 = rest === undefined ? -1 : rest.lastIndexOf(':');
    const pub = rest === undefined ? undefined : rest.slice(c2 + 1) || undefined;
    let ip = c2 >= 0 ? rest!.slice(0, c2) : undefined;
    if (ip?.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
    if (!/^\d+(-\d+)?$/.test(target) || (pub !== undefined && !/^\d+(-\d+)?$/.test(pub))) throw bad();
    const [t0, t1] = target.split('-').map(Number);
    const targets = t1 !== undefined ? Array.from({ length: Math.max(0, Math.min(t1 - t0 + 1, 65536)) }, (_, i) => t0 + i) : [t0];
    const pubs = pub ? pub.split('-').map(Number) : undefined;
    if (pubs && pubs.length === 2 && targets.length > 1 && pubs[1] - pubs[0] + 1 !== targets.length) {
      throw new Error(`invalid port "${p}": the host range and the container range differ in size`);
    }
    return targets.map((t, i) => {
      // Key order as docker compose config prints it.
      const pc = { mode: 'ingress', ...(ip ? { host_ip: ip } : {}), target: t } as PortConfig;
      if (pubs) pc.published = String(pubs.length === 2 && targets.length > 1 ? pubs[0] + i : pub);
      pc.protocol = (proto as 'tcp' | 'udp') ?? 'tcp';
      return pc;
    });
  }
  if (isObj(p)) {
    const pc = { mode: (p.mode as 'ingress' | 'host') ?? 'ingress', ...(p.host_ip ? { host_ip: String(p.host_ip) } : {}), target: Number(p.target) } as PortConfig;
    if (p.published !== undefined && p.published !== null && p.published !== '') pc.published = String(p.published);
    pc.protocol = (p.protocol as 'tcp' | 'udp') ?? 'tcp';
    if (p.name) pc.name = String(p.name);
    if (p.app_protocol) pc.app_protocol = String(p.app_protocol);
    return [pc];
  }
  throw new Error(`invalid port ${JSON.stringify(p)}`);
}

/** A list of KEY=VALUE or a mapping, as a mapping; a key with no value is null. */
export function toMap(v: Json | undefined): Record<string, string | null> {
  if (Array.isArray(v)) {
    return Object.fromEntries(v.map((e) => {
      const s = String(e);
      const i = s.indexOf('=');
      return i < 0 ? [s, null] : [s.slice(0, i), s.slice(i + 1)];
    }));
  }
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? null : String(x)]));
  return {};
}

function commandArray(v: Json | undefined, path: Path, fail: Fail): string[] | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (Array.isArray(v)) return v.map(String);
  try {
    return shellSplit(String(v));
  } catch (err) {
    fail(path, (err as Error).message);
    return [];
  }
}

/** A host path as Compose resolves it: ~ is the home folder, relative paths start at the project folder. */
export function hostPath(s: string, workingDir: string): string {
  if (s === '~' || s.startsWith('~/')) return join(homedir(), s.slice(1));
  return isAbsolute(s) ? s : resolve(workingDir, s);
}

/** Short volume syntax SOURCE:TARGET[:MODE] or TARGET, and the long form with relative paths resolved. */
export function volumeMount(e: Json, workingDir: string): VolumeMountConfig {
  if (typeof e !== 'string') {
    const o = { ...(e as Obj) } as unknown as VolumeMountConfig;
    if (o.type === 'bind' && o.source) o.source = hostPath(o.source, workingDir);
    return o;
  }
  // A Windows-style "C:\..." source is not split on its drive colon.
  const parts = /^[A-Za-z]:[\\/]/.test(e) ? [e.slice(0, 2) + e.slice(2).split(':')[0], ...e.slice(2).split(':').slice(1)] : e.split(':');
  if (parts.length === 1) return { type: 'volume', target: parts[0] };
  const [source, target, mode] = parts;
  const isPath = source.startsWith('.') || source.startsWith('/') || source.startsWith('~') || /^[A-Za-z]:[\\/]/.test(source);
  const m: VolumeMountConfig = { type: isPath ? 'bind' : 'volume', source: isPath ? hostPath(source, workingDir) : source, target };
  const opts = mode?.split(',') ?? [];
  if (opts.includes('ro')) m.read_only = true;
  if (isPath) {
    m.bind = { create_host_path: true };
    const sel = opts.find((o) => o === 'z' || o === 'Z');
    if (sel) m.bind.selinux = sel;
  } else if (opts.includes('nocopy')) m.volume = { nocopy: true };
  return m;
}

function fileRefs(v: Json | undefined): FileReferenceConfig[] {
  if (!Array.isArray(v)) return [];
  return v.map((e) => (typeof e === 'string' ? { source: e, target: e } : ({ ...(e as Obj) } as unknown as FileReferenceConfig)));
}

function isRemote(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('git@') || s.startsWith('github.com/');
}

function buildConfig(v: Json | undefined, workingDir: string): BuildConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const o: Obj = typeof v === 'string' ? { context: v } : { ...(v as Obj) };
  const ctx = typeof o.context === 'string' ? o.context : '.';
  const out: BuildConfig = { ...(o as object), context: isRemote(ctx) ? ctx : hostPath(ctx, workingDir) };
  if (out.dockerfile === undefined && out.dockerfile_inline === undefined) out.dockerfile = 'Dockerfile';
  if (o.args !== undefined) out.args = toMap(o.args);
  if (o.labels !== undefined) out.labels = toMap(o.labels) as Record<string, string>;
  return out;
}

/** env_file entries in order, each read with Compose's .env rules (or kept raw with `format: raw`). */
function envFromFiles(raw: Json | undefined, workingDir: string, env: Env, path: Path, fail: Fail): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined || raw === null) return out;
  const list = Array.isArray(raw) ? raw : [raw];
  list.forEach((f, i) => {
    const o = isObj(f) ? f : { path: f };
    const file = hostPath(String(o.path), workingDir);
    const required = o.required !== false && o.required !== 'false';
    if (!existsSync(file)) {
      if (required) fail(Array.isArray(raw) ? [...path, i] : path, `env file ${file} not found (mark it "required: false" if it may be missing)`);
      return;
    }
    const r = readDotenv(readFileSync(file, 'utf8'), (k) => out[k] ?? env[k], o.format === 'raw');
    for (const p of r.problems) fail(Array.isArray(raw) ? [...path, i] : path, `${file}:${p.line}: ${p.message}`);
    Object.assign(out, r.vars);
  });
  return out;
}

export function normalizeService(name: string, raw: Obj, workingDir: string, env: Env, fail: Fail): ServiceConfig {
  const at = (...k: (string | number)[]): Path => ['services', name, ...k];
  const environment: Record<string, string | null> = { ...envFromFiles(raw.env_file, workingDir, env, at('env_file'), fail) };
  // A bare name takes its value from the project's environment, or stays null (unset).
  for (const [k, v] of Object.entries(toMap(raw.environment))) environment[k] = v ?? env[k] ?? null;
  const ports: PortConfig[] = [];
  const origins: number[] = [];
  (Array.isArray(raw.ports) ? raw.ports : []).forEach((p, i) => {
    try {
      for (const pc of parsePort(p)) {
        ports.push(pc);
        origins.push(i);
      }
    } catch (err) {
      fail(at('ports', i), (err as Error).message);
    }
  });
  const depends_on: Record<string, DependsOnConfig> = {};
  if (Array.isArray(raw.depends_on)) for (const d of raw.depends_on) depends_on[String(d)] = { condition: 'service_started', required: true };
  else if (isObj(raw.depends_on)) {
    for (const [d, c] of Object.entries(raw.depends_on)) {
      const o = isObj(c) ? c : {};
      depends_on[d] = { condition: (o.condition as DependsOnConfig['condition']) ?? 'service_started', required: o.required !== false, ...(o.restart !== undefined ? { restart: Boolean(o.restart) } : {}) };
    }
  }
  let hc: ServiceConfig['healthcheck'];
  if (isObj(raw.healthcheck)) {
    hc = { ...(raw.healthcheck as object) } as ServiceConfig['healthcheck'];
    if (typeof raw.healthcheck.test === 'string') hc!.test = ['CMD-SHELL', raw.healthcheck.test];
  }
  const networks: ServiceConfig['networks'] = {};
  if (Array.isArray(raw.networks)) for (const n of raw.networks) networks[String(n)] = null;
  else if (isObj(raw.networks)) Object.assign(networks, raw.networks);
  else if (raw.network_mode === undefined) networks.default = null;
  const labels = Object.fromEntries(Object.entries(toMap(raw.labels)).map(([k, v]) => [k, v ?? '']));
  const svc: ServiceConfig = {
    ...(raw as object),
    name,
    environment,
    labels,
    ports,
    expose: (Array.isArray(raw.expose) ? raw.expose : []).map(String),
    depends_on,
    profiles: (Array.isArray(raw.profiles) ? raw.profiles : []).map(String),
    networks,
    volumes: (Array.isArray(raw.volumes) ? raw.volumes : []).map((v) => volumeMount(v, workingDir)),
    secrets: fileRefs(raw.secrets),
    configs: fileRefs(raw.configs),
  };
  delete (svc as { env_file?: unknown }).env_file;
  delete (svc as { extends?: unknown }).extends;
  const build = buildConfig(raw.build, workingDir);
  if (build) svc.build = build;
  else delete svc.build;
  const cmd = commandArray(raw.command, at('command'), fail);
  const ep = commandArray(raw.entrypoint, at('entrypoint'), fail);
  if (cmd !== undefined) svc.command = cmd;
  if (ep !== undefined) svc.entrypoint = ep;
  if (hc) svc.healthcheck = hc;
  recordPortOrigins(svc, origins);
  return svc;
}

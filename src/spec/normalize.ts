// Normalization to Compose's long syntax: what `docker compose config` prints.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, posix, resolve } from 'node:path';
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
  // A Windows path (a drive letter or a UNC share) is kept as written, as Compose does for a daemon elsewhere.
  return isAbsolute(s) || /^[A-Za-z]:[\\/]/.test(s) || s.startsWith('\\\\') ? s : resolve(workingDir, s);
}

const PROPAGATION = new Set(['rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave']);

/** A bind source as Compose tells it from a volume name: starts with ".", "/", "~", a UNC share or a drive letter. */
function isFilePath(s: string): boolean {
  return /^[./~]/.test(s) || s.startsWith('\\\\') || /^[A-Za-z]:/.test(s);
}

/** Compose cleans mount targets as Go's path.Clean does ("/z/" -> "/z", "/a/../b" -> "/b"). */
function cleanTarget(t: string): string {
  if (t === '') return t;
  const n = posix.normalize(t);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * Splits SOURCE:TARGET[:MODE] as Compose does: not inside "${...}", not on a
 * drive letter's colon ("C:\\x:/y"); an empty part is an error.
 */
function splitVolume(spec: string): string[] {
  const parts: string[] = [];
  let buf = '';
  let depth = 0;
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i];
    if (c === '$' && spec[i + 1] === '{') depth++;
    else if (c === '}' && depth > 0) depth--;
    else if (c === ':' && depth === 0 && !(buf.length === 1 && /[A-Za-z]/.test(buf))) {
      parts.push(buf);
      buf = '';
      continue;
    }
    buf += c;
  }
  parts.push(buf);
  return parts;
}

/** Short volume syntax SOURCE:TARGET[:MODE] or TARGET, and the long form with relative paths resolved. */
export function volumeMount(e: Json, workingDir: string): VolumeMountConfig {
  if (typeof e !== 'string') {
    const o = { ...(e as Obj) } as unknown as VolumeMountConfig;
    if (o.type === 'bind' && o.source) o.source = hostPath(o.source, workingDir);
    // An explicit `bind:` section defaults create_host_path to true, as Compose's defaults do.
    if (o.type === 'bind' && isObj(o.bind as Json) && o.bind!.create_host_path === undefined) o.bind = { ...o.bind, create_host_path: true };
    if (typeof o.target === 'string') o.target = cleanTarget(o.target);
    return o;
  }
  // One or two characters are a target only (Compose's rule, so "/a" is an anonymous volume).
  const parts = e.length <= 2 ? [e] : splitVolume(e);
  if (parts.some((x) => x === '')) throw new Error(`invalid volume "${e}": empty section between colons`);
  if (parts.length > 3) throw new Error(`invalid volume "${e}": too many colons`);
  const [source, target, mode] = parts.length === 1 ? [undefined, parts[0], undefined] : parts;
  const bind = source !== undefined && isFilePath(source);
  const m: VolumeMountConfig = { type: bind ? 'bind' : 'volume', ...(source !== undefined ? { source: bind ? hostPath(source, workingDir) : source } : {}), target: cleanTarget(target) };
  const b: NonNullable<VolumeMountConfig['bind']> = {};
  for (const o of mode?.split(',') ?? []) {
    if (o === 'ro') m.read_only = true;
    else if (o === 'rw') delete m.read_only;
    else if (o === 'nocopy') m.volume = { nocopy: true };
    else if (o === 'z' || o === 'Z') b.selinux = o;
    else if (PROPAGATION.has(o)) b.propagation = o;
  }
  // Key order as Compose prints the bind section: selinux, propagation, create_host_path.
  if (bind) m.bind = { ...b, create_host_path: true };
  else {
    if (Object.keys(b).length > 0) m.bind = b;
    m.volume ??= {};
  }
  return m;
}

/**
 * Short and long secret/config references. A secret without a target is
 * mounted at /run/secrets/<source>, which Compose writes out; a config's
 * target stays unset (it defaults to /<source> where it is used).
 */
function fileRefs(v: Json | undefined, kind: 'secrets' | 'configs'): FileReferenceConfig[] {
  if (!Array.isArray(v)) return [];
  return v.map((e) => {
    const r = (typeof e === 'string' ? { source: e } : { ...(e as Obj) }) as unknown as FileReferenceConfig;
    if (kind === 'secrets' && r.target === undefined) r.target = `/run/secrets/${r.source}`;
    return r;
  });
}

/** Build contexts Compose leaves alone: URLs, `service:NAME`, git references. */
function isRemote(s: string): boolean {
  return s.includes('://') || /^(service:|git@|github\.com\/)/.test(s);
}

function buildConfig(v: Json | undefined, workingDir: string, env: Env): BuildConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const o: Obj = typeof v === 'string' ? { context: v } : { ...(v as Obj) };
  const ctx = typeof o.context === 'string' ? o.context : '.';
  const out: BuildConfig = { ...(o as object), context: isRemote(ctx) ? ctx : hostPath(ctx, workingDir) };
  if (out.dockerfile === undefined && out.dockerfile_inline === undefined) out.dockerfile = 'Dockerfile';
  // A bare argument takes its value from the environment; one that is not set there is left out, as Compose does.
  if (o.args !== undefined) {
    out.args = {};
    for (const [k, x] of Object.entries(toMap(o.args))) {
      const val = x ?? env[k];
      if (val !== undefined && val !== null) out.args[k] = val;
    }
  }
  if (o.labels !== undefined) out.labels = toMap(o.labels) as Record<string, string>;
  // Other local contexts are folders too; build secrets are file references without a default target.
  if (o.additional_contexts !== undefined) {
    out.additional_contexts = Object.fromEntries(Object.entries(toMap(o.additional_contexts)).map(([k, c]) => [k, c === null || isRemote(c) || c.startsWith('docker-image:') || c.startsWith('oci-layout:') ? c : hostPath(c, workingDir)]));
  }
  if (Array.isArray(o.secrets)) out.secrets = o.secrets.map((e) => (typeof e === 'string' ? { source: e } : e));
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

/**
 * A lifecycle hook: command as a list, environment as a mapping; a pre_start
 * hook without an image runs the service's image, as Compose fills it in.
 */
function serviceHook(h: Json, image: Json | undefined, path: Path, fail: Fail): Json {
  if (!isObj(h)) return h;
  const out: Obj = { ...h };
  if (h.command !== undefined) out.command = commandArray(h.command, [...path, 'command'], fail) ?? null;
  // Unlike a service's, a hook's bare variables are not looked up in the environment.
  if (h.environment !== undefined) out.environment = toMap(h.environment);
  if (out.image === undefined && typeof image === 'string' && image !== '') out.image = image;
  return out;
}

/** label_file entries in order, read as .env files; explicit `labels` override them. */
function labelsFromFiles(raw: Json | undefined, workingDir: string, path: Path, fail: Fail): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined || raw === null) return out;
  const list = Array.isArray(raw) ? raw : [raw];
  list.forEach((f, i) => {
    const file = hostPath(String(f), workingDir);
    const at = Array.isArray(raw) ? [...path, i] : path;
    if (!existsSync(file)) return fail(at, `label file ${file} not found`);
    // Variables in a label file see only labels read before them, not the environment.
    const r = readDotenv(readFileSync(file, 'utf8'), (k) => out[k]);
    for (const p of r.problems) fail(at, `${file}:${p.line}: ${p.message}`);
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
  // Compose makes links, `service:` namespaces and volumes_from into dependencies too (restarted with their
  // target, except volumes_from); an explicit depends_on entry wins.
  const implied = (dep: string, restart: boolean): void => {
    depends_on[dep] ??= { condition: 'service_started', restart, required: true };
  };
  for (const l of Array.isArray(raw.links) ? raw.links : []) {
    const parts = String(l).split(':');
    implied(parts.length === 2 ? parts[0] : String(l), true);
  }
  for (const ns of ['network_mode', 'ipc', 'pid', 'uts', 'cgroup']) {
    const v = raw[ns];
    if (typeof v === 'string' && v.startsWith('service:')) implied(v.slice('service:'.length), true);
  }
  for (const v of Array.isArray(raw.volumes_from) ? raw.volumes_from : []) {
    if (!String(v).startsWith('container:')) implied(String(v).split(':')[0], false);
  }
  let hc: ServiceConfig['healthcheck'];
  if (isObj(raw.healthcheck)) {
    hc = { ...(raw.healthcheck as object) } as ServiceConfig['healthcheck'];
    if (typeof raw.healthcheck.test === 'string') hc!.test = ['CMD-SHELL', raw.healthcheck.test];
  }
  // No networks (or an empty mapping) means the default network, unless the service shares another's
  // network stack or is run by a provider.
  const networks: ServiceConfig['networks'] = {};
  if (Array.isArray(raw.networks)) for (const n of raw.networks) networks[String(n)] = null;
  else if (isObj(raw.networks)) Object.assign(networks, raw.networks);
  if (Object.keys(networks).length === 0 && raw.network_mode === undefined && raw.provider === undefined) networks.default = null;
  const labels: Record<string, string> = labelsFromFiles(raw.label_file, workingDir, at('label_file'), fail);
  for (const [k, v] of Object.entries(toMap(raw.labels))) labels[k] = v ?? '';
  const volumes: VolumeMountConfig[] = [];
  (Array.isArray(raw.volumes) ? raw.volumes : []).forEach((v, i) => {
    try {
      volumes.push(volumeMount(v, workingDir));
    } catch (err) {
      fail(at('volumes', i), (err as Error).message);
    }
  });
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
    volumes,
    secrets: fileRefs(raw.secrets, 'secrets'),
    configs: fileRefs(raw.configs, 'configs'),
  };
  // Watched paths are folders of this machine: absolute, as Compose makes them.
  if (isObj(raw.develop) && Array.isArray(raw.develop.watch)) {
    svc.develop = { ...raw.develop, watch: raw.develop.watch.map((t) => (isObj(t) && typeof t.path === 'string' ? { ...t, path: hostPath(t.path, workingDir) } : t)) };
  }
  // A list of model names stands for a mapping with no options, as for networks.
  if (Array.isArray(raw.models)) svc.models = Object.fromEntries(raw.models.map((m) => [String(m), null]));
  for (const k of ['pre_start', 'post_start', 'pre_stop'] as const) {
    if (Array.isArray(raw[k])) svc[k] = raw[k].map((h, i) => serviceHook(h, k === 'pre_start' ? raw.image : undefined, at(k, i), fail));
  }
  // Their contents are in environment and labels now, as `docker compose config` shows them.
  delete (svc as { env_file?: unknown }).env_file;
  delete (svc as { label_file?: unknown }).label_file;
  // Compose's old spelling of "missing".
  if (svc.pull_policy === 'if_not_present') svc.pull_policy = 'missing';
  delete (svc as { extends?: unknown }).extends;
  const build = buildConfig(raw.build, workingDir, env);
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

// A compact Compose loader: discovery, .env, interpolation, -f merging,
// profiles and normalization to long syntax, with positions in every error.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { LineCounter, parseDocument, stringify, type Document, type Node as YamlNode } from 'yaml';
import { SpecError } from './errors.js';
import type { ComposeProject, DependsOnConfig, LoadOptions, PortConfig, ServiceConfig, SpecProblem, VolumeMountConfig, FileReferenceConfig } from './types.js';
import { parseDuration } from './duration.js';

export * from './types.js';
export { SpecError, formatProblem } from './errors.js';
export { parseDuration } from './duration.js';

const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

interface Source {
  file: string;
  doc: Document.Parsed;
  lc: LineCounter;
}

/** Finds the Compose file pair Compose would: compose.yaml (or its older names) and its override. */
function discover(dir: string): string[] {
  for (const name of DEFAULT_FILES) {
    const p = join(dir, name);
    if (existsSync(p)) {
      const override = p.replace(/\.ya?ml$/, (ext) => `.override${ext}`);
      return existsSync(override) ? [p, override] : [p];
    }
  }
  throw new SpecError([{ file: dir, path: '', message: `no Compose file found (looked for ${DEFAULT_FILES.join(', ')})` }]);
}

/** .env syntax as Compose reads it: KEY=VALUE, `export`, quotes, comments. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2];
    if ((v.startsWith('"') && v.endsWith('"') && v.length >= 2) || (v.startsWith("'") && v.endsWith("'") && v.length >= 2)) {
      const dq = v.startsWith('"');
      v = v.slice(1, -1);
      if (dq) v = v.replace(/\\n/g, '\n').replace(/\\"/g, '"');
    } else v = v.replace(/\s+#.*$/, '');
    out[m[1]] = v;
  }
  return out;
}

/** Compose interpolation: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+a}, ${VAR+a}, $$. */
export function interpolate(text: string, env: Record<string, string | undefined>): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      let depth = 1;
      let j = i + 2;
      while (j < text.length && depth > 0) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}') depth--;
        if (depth > 0) j++;
      }
      if (depth > 0) throw new Error(`unclosed "\${" in "${text}"`);
      out += expand(text.slice(i + 2, j), env);
      i = j + 1;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
      if (m) {
        out += env[m[0]] ?? '';
        i += 1 + m[0].length;
      } else {
        out += '$';
        i++;
      }
    }
  }
  return out;
}

function expand(body: string, env: Record<string, string | undefined>): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
  if (!m) throw new Error(`invalid interpolation "\${${body}}"`);
  const [, name, op, arg = ''] = m;
  const v = env[name];
  const empty = v === undefined || (op?.startsWith(':') && v === '');
  switch (op) {
    case undefined:
      return v ?? '';
    case ':-':
    case '-':
      return empty ? interpolate(arg, env) : v!;
    case ':?':
    case '?':
      if (empty) throw new Error(`required variable ${name} is missing a value${arg ? `: ${interpolate(arg, env)}` : ''}`);
      return v!;
    case ':+':
    case '+':
      return empty ? '' : interpolate(arg, env);
  }
  return v ?? '';
}

function pathText(path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function position(src: Source, path: (string | number)[]): { line?: number; col?: number } {
  for (let n = path.length; n >= 0; n--) {
    const node = src.doc.getIn(path.slice(0, n), true) as YamlNode | undefined;
    const range = node && (node as { range?: [number, number, number] }).range;
    if (range) {
      const { line, col } = src.lc.linePos(range[0]);
      return { line, col };
    }
  }
  return {};
}

/** Interpolates every string of a YAML value, reporting where a variable is required or malformed. */
function interpolateTree(v: Json, env: Record<string, string | undefined>, src: Source, path: (string | number)[], problems: SpecProblem[]): Json {
  if (typeof v === 'string') {
    try {
      return interpolate(v, env);
    } catch (err) {
      problems.push({ file: src.file, ...position(src, path), path: pathText(path), message: (err as Error).message });
      return v;
    }
  }
  if (Array.isArray(v)) return v.map((x, i) => interpolateTree(x, env, src, [...path, i], problems));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateTree(x, env, src, [...path, k], problems)]));
  return v;
}

/** Keys whose values replace rather than merge across -f files, as Compose does. */
const REPLACE = /^services\.[^.]+\.(command|entrypoint|healthcheck\.test)$/;

function merge(base: Json, over: Json, path: string): Json {
  if (REPLACE.test(path)) return over;
  if (Array.isArray(base) && Array.isArray(over)) return [...base, ...over.filter((x) => !base.some((b) => JSON.stringify(b) === JSON.stringify(x)))];
  if (base && over && typeof base === 'object' && typeof over === 'object' && !Array.isArray(base) && !Array.isArray(over)) {
    const out: Obj = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = k in out ? merge(out[k], v, path ? `${path}.${k}` : k) : v;
    return out;
  }
  return over;
}

/** Splits a command string as a POSIX shell would (quotes, backslashes), without expanding anything. */
export function shellSplit(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let have = false;
  let q: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === q) q = undefined;
      else if (c === '\\' && q === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      have = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      have = true;
    } else if (/\s/.test(c)) {
      if (have || cur) out.push(cur);
      cur = '';
      have = false;
    } else cur += c;
  }
  if (q) throw new Error(`unterminated ${q} quote in "${s}"`);
  if (have || cur) out.push(cur);
  return out;
}

export function normalizeProjectName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[^a-z0-9]+/, '');
}

function parsePort(p: Json, where: string): PortConfig[] {
  if (typeof p === 'number') return [{ target: p, protocol: 'tcp', mode: 'ingress' }];
  if (typeof p === 'string') {
    const m = /^(?:(?:\[?([0-9a-fA-F.:]+?)\]?):)??(?:(\d+(?:-\d+)?):)?(\d+(?:-\d+)?)(?:\/(tcp|udp))?$/.exec(p);
    if (!m) throw new Error(`invalid port "${p}": expected [[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL]`);
    const [, ip, pub, target, proto] = m;
    const [t0, t1] = target.split('-').map(Number);
    const targets = t1 ? Array.from({ length: t1 - t0 + 1 }, (_, i) => t0 + i) : [t0];
    const pubs = pub?.split('-').map(Number);
    return targets.map((t, i) => {
      const pc: PortConfig = { target: t, protocol: (proto as 'tcp' | 'udp') ?? 'tcp', mode: 'ingress' };
      if (pubs) pc.published = String(pubs.length === 2 && targets.length > 1 ? pubs[0] + i : pub);
      if (ip) pc.host_ip = ip;
      return pc;
    });
  }
  if (p && typeof p === 'object' && !Array.isArray(p)) {
    const o = p as Obj;
    const pc: PortConfig = { target: Number(o.target), protocol: (o.protocol as 'tcp' | 'udp') ?? 'tcp', mode: (o.mode as 'ingress' | 'host') ?? 'ingress' };
    if (o.published !== undefined && o.published !== null) pc.published = String(o.published);
    if (o.host_ip) pc.host_ip = String(o.host_ip);
    if (o.name) pc.name = String(o.name);
    if (o.app_protocol) pc.app_protocol = String(o.app_protocol);
    return [pc];
  }
  throw new Error(`invalid port ${JSON.stringify(p)} in ${where}`);
}

function toMap(v: Json, sep = '='): Record<string, string | null> {
  if (Array.isArray(v)) {
    return Object.fromEntries(v.map((e) => {
      const s = String(e);
      const i = s.indexOf(sep);
      return i < 0 ? [s, null] : [s.slice(0, i), s.slice(i + 1)];
    }));
  }
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? null : String(x)]));
  return {};
}

function commandArray(v: Json | undefined): string[] | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (Array.isArray(v)) return v.map(String);
  return shellSplit(String(v));
}

function fileRefs(v: Json | undefined): FileReferenceConfig[] {
  if (!Array.isArray(v)) return [];
  return v.map((e) => (typeof e === 'string' ? { source: e, target: e } : (e as unknown as FileReferenceConfig)));
}

function volumeMounts(v: Json | undefined, workingDir: string): VolumeMountConfig[] {
  if (!Array.isArray(v)) return [];
  return v.map((e) => {
    if (typeof e !== 'string') return e as unknown as VolumeMountConfig;
    const parts = e.split(':');
    if (parts.length === 1) return { type: 'volume', target: parts[0] };
    const [source, target, mode] = parts;
    const isPath = source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
    const m: VolumeMountConfig = { type: isPath ? 'bind' : 'volume', source: isPath && !isAbsolute(source) ? resolve(workingDir, source) : source, target };
    if (mode?.split(',').includes('ro')) m.read_only = true;
    if (isPath) m.bind = { create_host_path: true };
    return m;
  });
}

function normalizeService(name: string, raw: Obj, workingDir: string, env: Record<string, string | undefined>, where: (p: (string | number)[], msg: string) => void): ServiceConfig {
  const at = (k: string): (string | number)[] => ['services', name, k];
  const environment: Record<string, string | null> = {};
  const envFiles = raw.env_file === undefined ? [] : Array.isArray(raw.env_file) ? raw.env_file : [raw.env_file];
  envFiles.forEach((f, i) => {
    const path = typeof f === 'string' ? f : String((f as Obj).path);
    const required = typeof f === 'string' ? true : (f as Obj).required !== false;
    const abs = resolve(workingDir, path);
    if (!existsSync(abs)) {
      if (required) where([...at('env_file'), i], `env file ${abs} not found`);
      return;
    }
    Object.assign(environment, parseDotenv(readFileSync(abs, 'utf8')));
  });
  Object.assign(environment, toMap(raw.environment ?? {}));
  const ports: PortConfig[] = [];
  (Array.isArray(raw.ports) ? raw.ports : []).forEach((p, i) => {
    try {
      for (const pc of parsePort(p, `services.${name}.ports`)) {
        for (const n of [pc.target, ...(pc.published ? pc.published.split('-').map(Number) : [])]) {
          if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`invalid port "${typeof p === 'object' ? JSON.stringify(p) : p}": ports must be 1-65535`);
        }
        ports.push(pc);
      }
    } catch (err) {
      where([...at('ports'), i], (err as Error).message);
    }
  });
  const depends_on: Record<string, DependsOnConfig> = {};
  if (Array.isArray(raw.depends_on)) for (const d of raw.depends_on) depends_on[String(d)] = { condition: 'service_started', required: true };
  else if (raw.depends_on && typeof raw.depends_on === 'object') {
    for (const [d, c] of Object.entries(raw.depends_on as Obj)) {
      const o = (c ?? {}) as Obj;
      depends_on[d] = { condition: (o.condition as DependsOnConfig['condition']) ?? 'service_started', required: o.required !== false, ...(o.restart !== undefined ? { restart: Boolean(o.restart) } : {}) };
    }
  }
  const healthcheck = raw.healthcheck as Obj | undefined;
  let hc: ServiceConfig['healthcheck'];
  if (healthcheck) {
    hc = { ...(healthcheck as object) } as ServiceConfig['healthcheck'];
    if (typeof healthcheck.test === 'string') hc!.test = ['CMD-SHELL', healthcheck.test];
    for (const k of ['interval', 'timeout', 'start_period', 'start_interval'] as const) {
      const v = healthcheck[k];
      if (v !== undefined && parseDuration(v as string) === undefined) where(['services', name, 'healthcheck', k], `invalid duration "${v}"`);
    }
  }
  const networks: ServiceConfig['networks'] = {};
  if (Array.isArray(raw.networks)) for (const n of raw.networks) networks[String(n)] = null;
  else if (raw.networks && typeof raw.networks === 'object') Object.assign(networks, raw.networks);
  else networks.default = null;
  if (raw.stop_grace_period !== undefined && parseDuration(raw.stop_grace_period as string) === undefined) {
    where(at('stop_grace_period'), `invalid duration "${raw.stop_grace_period}"`);
  }
  const svc: ServiceConfig = {
    ...(raw as object),
    name,
    environment,
    labels: toMap(raw.labels ?? {}) as Record<string, string>,
    ports,
    expose: (Array.isArray(raw.expose) ? raw.expose : []).map(String),
    depends_on,
    profiles: (Array.isArray(raw.profiles) ? raw.profiles : []).map(String),
    networks,
    volumes: volumeMounts(raw.volumes, workingDir),
    secrets: fileRefs(raw.secrets),
    configs: fileRefs(raw.configs),
  };
  delete (svc as { env_file?: unknown }).env_file;
  const cmd = commandArray(raw.command);
  const ep = commandArray(raw.entrypoint);
  if (cmd !== undefined) svc.command = cmd;
  if (ep !== undefined) svc.entrypoint = ep;
  if (hc) svc.healthcheck = hc;
  void env;
  return svc;
}

export async function loadProject(opts: LoadOptions = {}): Promise<ComposeProject> {
  const cwd = opts.cwd ?? process.cwd();
  const baseEnv = opts.env ?? process.env;
  const files = opts.files && opts.files.length > 0 ? opts.files.map((f) => resolve(cwd, f)) : discover(resolve(cwd, opts.projectDir ?? '.'));
  const workingDir = resolve(cwd, opts.projectDir ?? dirname(files[0]));
  const problems: SpecProblem[] = [];
  const envFiles = opts.envFiles && opts.envFiles.length > 0 ? opts.envFiles.map((f) => resolve(cwd, f)) : [join(workingDir, '.env')];
  const dotenv: Record<string, string> = {};
  for (const f of envFiles) {
    if (existsSync(f)) Object.assign(dotenv, parseDotenv(readFileSync(f, 'utf8')));
    else if (opts.envFiles?.length) problems.push({ file: f, path: '', message: 'env file not found' });
  }
  const env: Record<string, string | undefined> = { ...dotenv, ...baseEnv };
  let merged: Json = {};
  const sources: Source[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push({ file, path: '', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      continue;
    }
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false, merge: true });
    const src: Source = { file, doc, lc };
    sources.push(src);
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const { line, col } = lc.linePos(e.pos[0]);
        problems.push({ file, line, col, path: '', message: e.message.split('\n')[0] });
      }
      continue;
    }
    let value: Json;
    try {
      value = doc.toJS({ maxAliasCount: 10_000 }) as Json;
    } catch (err) {
      problems.push({ file, path: '', message: (err as Error).message });
      continue;
    }
    if (value === null || value === undefined) value = {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push({ file, line: 1, col: 1, path: '', message: 'a Compose file must be a mapping at the top level' });
      continue;
    }
    if (!opts.noInterpolate) value = interpolateTree(value, env, src, [], problems);
    merged = merge(merged, value, '');
  }
  if (problems.length > 0) throw new SpecError(problems);
  const top = merged as Obj;
  const lastSrc = sources[sources.length - 1];
  const where = (path: (string | number)[], message: string): void => {
    const src = [...sources].reverse().find((s) => s.doc.hasIn(path)) ?? lastSrc;
    problems.push({ file: src.file, ...position(src, path), path: pathText(path), message });
  };
  const rawName = opts.projectName ?? baseEnv.COMPOSE_PROJECT_NAME ?? (typeof top.name === 'string' ? top.name : undefined) ?? basename(workingDir);
  const name = normalizeProjectName(rawName);
  if (!name) problems.push({ file: files[0], path: 'name', message: `project name "${rawName}" has no letter or digit to keep` });
  const servicesRaw = (top.services ?? {}) as Obj;
  if (typeof servicesRaw !== 'object' || Array.isArray(servicesRaw)) where(['services'], 'expected a mapping of service names to services');
  const active = new Set([...(opts.profiles ?? []), ...(baseEnv.COMPOSE_PROFILES ?? '').split(',').map((s) => s.trim()).filter(Boolean)]);
  const services: Record<string, ServiceConfig> = {};
  for (const [sname, raw] of Object.entries(servicesRaw)) {
    if (!/^[a-zA-Z0-9._-]+$/.test(sname)) where(['services', sname], 'service names may only hold letters, digits, ".", "_" and "-"');
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      where(['services', sname], 'expected a mapping');
      continue;
    }
    const svc = normalizeService(sname, raw as Obj, workingDir, env, where);
    if (svc.profiles.length > 0 && !svc.profiles.some((p) => active.has(p) || active.has('*'))) continue;
    services[sname] = svc;
  }
  const xb = top['x-baton'] as ComposeProject['x-baton'];
  for (const svc of Object.values(services)) {
    for (const dep of Object.keys(svc.depends_on)) {
      if (!services[dep] && svc.depends_on[dep].required) where(['services', svc.name, 'depends_on', dep], `depends on undefined service "${dep}"`);
      else if (services[dep] && svc.depends_on[dep].condition === 'service_healthy' && !services[dep].healthcheck) {
        where(['services', svc.name, 'depends_on', dep], `condition service_healthy, but service "${dep}" has no healthcheck`);
      }
    }
    const driver = svc['x-baton']?.driver ?? xb?.driver;
    if (!svc.image && !svc.build && driver !== 'process' && driver !== 'hollow') {
      where(['services', svc.name], 'has neither an image nor a build context specified (or x-baton: {driver: process})');
    }
    const r = svc.deploy?.replicas;
    if (r !== undefined && (!Number.isInteger(r) || r < 0)) where(['services', svc.name, 'deploy', 'replicas'], `must be a whole number >= 0, got ${r}`);
    if (svc.restart !== undefined && !/^(no|always|unless-stopped|on-failure(:\d+)?)$/.test(String(svc.restart))) {
      where(['services', svc.name, 'restart'], `invalid value "${svc.restart}": expected no, always, on-failure[:N] or unless-stopped`);
    }
  }
  const cycle = findCycle(services);
  if (cycle) where(['services', cycle[0], 'depends_on'], `dependency cycle: ${cycle.join(' -> ')}`);
  if (problems.length > 0) throw new SpecError(problems);
  const named = (section: string): Record<string, { name: string; [k: string]: unknown }> =>
    Object.fromEntries(Object.entries((top[section] ?? {}) as Obj).map(([k, v]) => {
      const o = (v ?? {}) as Obj;
      return [k, { ...o, name: typeof o.name === 'string' ? o.name : o.external ? k : `${name}_${k}` }];
    }));
  const networks = named('networks');
  if (Object.values(services).some((s) => 'default' in s.networks) && !networks.default) networks.default = { name: `${name}_default` };
  const project: ComposeProject = {
    ...Object.fromEntries(Object.entries(top).filter(([k]) => k.startsWith('x-'))),
    name,
    workingDir,
    files,
    services,
    networks: networks as ComposeProject['networks'],
    volumes: named('volumes') as ComposeProject['volumes'],
    secrets: named('secrets') as ComposeProject['secrets'],
    configs: named('configs') as ComposeProject['configs'],
  };
  return project;
}

function findCycle(services: Record<string, ServiceConfig>): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 2) return undefined;
    if (state.get(n) === 1) return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 1);
    stack.push(n);
    for (const d of Object.keys(services[n]?.depends_on ?? {})) {
      if (!services[d]) continue;
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const n of Object.keys(services)) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

/** The project as `docker compose config` prints it. */
export function formatConfig(p: ComposeProject, format: 'yaml' | 'json'): string {
  const { workingDir: _w, files: _f, ...rest } = p;
  const services = Object.fromEntries(Object.entries(p.services).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, s]) => {
    const { name: _n, ...body } = s;
    return [k, body];
  }));
  const out = { ...rest, services };
  for (const k of ['networks', 'volumes', 'secrets', 'configs'] as const) if (Object.keys(out[k]).length === 0) delete (out as Record<string, unknown>)[k];
  return format === 'json' ? JSON.stringify(out, null, 2) + '\n' : stringify(out, { aliasDuplicateObjects: false });
}


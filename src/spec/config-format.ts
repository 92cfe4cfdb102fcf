// `baton config` output, shaped like `docker compose config` so the two can be
// diffed. Docker Compose v2 prints its typed model (compose-go's structs), so
// this follows those structs: their field order, their value types (durations
// as Go prints them, byte sizes as integers in strings, file modes in octal),
// what they leave out (empty values, a bind mount's default create_host_path,
// resources no enabled service uses), and `$` doubled so the output can be
// read back. JSON follows Go's encoder: sorted top-level and map keys,
// `command`/`entrypoint` always present, and <, >, & escaped.
import { stringify } from 'yaml';
import { parseDuration } from './duration.js';
import type { ComposeProject, ServiceConfig } from './types.js';

type Obj = Record<string, unknown>;
type Format = 'yaml' | 'json';

export interface FormatOptions {
  /** The values were not interpolated (config --no-interpolate): `$` is not doubled. */
  noInterpolate?: boolean;
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function empty(v: unknown): boolean {
  return v === undefined || (Array.isArray(v) && v.length === 0) || (isObj(v) && Object.keys(v).length === 0);
}

function sortKeys(o: Obj): Obj {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

/** A duration as Go's time.Duration prints it: "1m30s", "1h0m0s", "500ms", "0s". */
export function goDuration(v: unknown): unknown {
  if (typeof v !== 'string' && typeof v !== 'number') return v;
  const ms = parseDuration(v);
  if (ms === undefined) return v;
  let ns = Math.round(ms * 1e6);
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  ns = Math.abs(ns);
  const frac = (n: number, unit: number): string => {
    const whole = Math.floor(n / unit);
    const rest = n % unit;
    if (rest === 0) return String(whole);
    const digits = String(unit).length - 1;
    return `${whole}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`;
  };
  if (ns < 1e3) return `${sign}${ns}ns`;
  if (ns < 1e6) return `${sign}${frac(ns, 1e3)}µs`;
  if (ns < 1e9) return `${sign}${frac(ns, 1e6)}ms`;
  const h = Math.floor(ns / 3.6e12);
  const m = Math.floor((ns % 3.6e12) / 6e10);
  const s = ns % 6e10;
  return `${sign}${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${frac(s, 1e9)}s`;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** A byte size as Compose prints it: the number of bytes, in a string ("512M" -> "536870912"). */
export function unitBytes(v: unknown): unknown {
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  if (typeof v !== 'string') return v;
  if (/^-?\d+$/.test(v)) return String(Number(v));
  // Docker's size syntax: binary multiples, an optional "i" and "b" ("1g", "1.5GiB", "512 mb").
  const m = /^(\d+(?:\.\d+)*) ?([kmgtp])?i?b?$/i.exec(v);
  if (!m || m[1].split('.').length > 2) return v;
  return String(Math.trunc(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]));
}

/** A file mode as Compose prints it: octal in a string ("0440"). */
function fileMode(v: unknown): unknown {
  if (typeof v === 'number' && Number.isInteger(v)) return `0${v.toString(8)}`;
  if (typeof v === 'string' && /^[0-7]+$/.test(v)) return `0${parseInt(v, 8).toString(8)}`;
  return v;
}

function num(v: unknown): unknown {
  return typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
}

function strings(v: unknown): unknown {
  return Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : v;
}

/** String-to-string mappings (sysctls, options): values printed as strings, keys sorted. */
function stringMap(v: unknown): unknown {
  if (Array.isArray(v)) {
    const o: Obj = {};
    for (const e of v.map(String)) {
      const i = e.indexOf('=');
      o[i < 0 ? e : e.slice(0, i)] = i < 0 ? '' : e.slice(i + 1);
    }
    v = o;
  }
  return isObj(v) ? sortKeys(Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? '' : String(x)]))) : v;
}

/** extra_hosts as Compose prints them: a sorted list of "host=address". */
function hostsList(v: unknown): unknown {
  const out: string[] = [];
  if (Array.isArray(v)) {
    for (const e of v.map(String)) {
      const sep = e.includes('=') ? '=' : ':';
      const i = e.indexOf(sep);
      if (i < 0) return v;
      for (const ip of e.slice(i + 1).split(',')) out.push(`${e.slice(0, i)}=${ip.replace(/^\[(.*)\]$/, '$1')}`);
    }
  } else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) for (const ip of [x ?? ''].flat()) out.push(`${k}=${String(ip).replace(/^\[(.*)\]$/, '$1')}`);
  } else return v;
  return out.sort();
}

type Conv = (v: unknown, format: Format) => unknown;
/**
 * A struct as Compose prints it: its keys in field order, converters for typed
 * values, and (JSON only) struct-valued fields Go's encoder prints even when empty.
 */
type Shape = { order: string[]; conv?: Record<string, Conv>; jsonAlways?: string[] };

/**
 * Rebuilds o with the keys of `shape.order` first, in that order; other keys
 * follow as they came, then extensions (x-*) sorted, as Go prints an inline map.
 * Empty values are left out, as the structs' omitempty does.
 */
function shaped(o: unknown, shape: Shape, format: Format): unknown {
  if (!isObj(o)) return o;
  const out: Obj = {};
  const put = (k: string): void => {
    if (!(k in o)) return;
    const conv = shape.conv?.[k];
    const v = conv ? conv(o[k], format) : o[k];
    if (!empty(v) && v !== null) out[k] = v;
  };
  for (const k of shape.order) {
    put(k);
    if (format === 'json' && shape.jsonAlways?.includes(k) && !(k in out)) out[k] = {};
  }
  for (const k of Object.keys(o)) if (!shape.order.includes(k) && !k.startsWith('x-')) put(k);
  for (const k of Object.keys(o).filter((x) => x.startsWith('x-')).sort()) out[k] = o[k];
  return out;
}

const each = (c: Conv): Conv => (v, f) => (Array.isArray(v) ? v.map((x) => c(x, f)) : v);
const values = (c: Conv): Conv => (v, f) => (isObj(v) ? sortKeys(Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? null : c(x, f)]))) : v);
const shape = (s: Shape): Conv => (v, f) => shaped(v, s, f);
const dur: Conv = (v) => goDuration(v);
const bytes: Conv = (v) => unitBytes(v);
/** Zero-valued (not pointer) durations are left out by omitempty. */
const durOmitZero: Conv = (v) => {
  const d = goDuration(v);
  return d === '0s' ? undefined : d;
};

const FILE_REF = shape({ order: ['source', 'target', 'uid', 'gid', 'mode'], conv: { mode: fileMode } });
const ULIMITS = values((v) => (isObj(v) ? shaped(v, { order: ['soft', 'hard'] }, 'json') : v));
const UPDATE = shape({ order: ['parallelism', 'delay', 'failure_action', 'monitor', 'max_failure_ratio', 'order'], conv: { delay: durOmitZero, monitor: durOmitZero } });
const RESOURCE: Conv = (v, f) => shaped(v, { order: ['cpus', 'memory', 'pids', 'devices', 'generic_resources'], conv: { cpus: num, memory: bytes, pids: num, devices: each(DEVICE_REQUEST) } }, f);

const BUILD = shape({
  order: ['context', 'dockerfile', 'dockerfile_inline', 'entitlements', 'args', 'provenance', 'sbom', 'ssh', 'labels', 'cache_from', 'cache_to', 'no_cache', 'no_cache_filter', 'additional_contexts', 'pull', 'extra_hosts', 'isolation', 'network', 'target', 'secrets', 'shm_size', 'tags', 'ulimits', 'platforms', 'privileged'],
  conv: { args: values(String), labels: stringMap, additional_contexts: stringMap, extra_hosts: hostsList, secrets: each(FILE_REF), shm_size: bytes, ulimits: ULIMITS, cache_from: strings, cache_to: strings, tags: strings, platforms: strings, no_cache_filter: strings },
});

const DEPLOY = shape({
  order: ['mode', 'replicas', 'labels', 'update_config', 'rollback_config', 'resources', 'restart_policy', 'placement', 'endpoint_mode'],
  conv: {
    labels: stringMap,
    update_config: UPDATE,
    rollback_config: UPDATE,
    resources: shape({ order: ['limits', 'reservations'], conv: { limits: RESOURCE, reservations: RESOURCE } }),
    restart_policy: shape({ order: ['condition', 'delay', 'max_attempts', 'window'], conv: { delay: dur, window: dur } }),
    placement: shape({ order: ['constraints', 'preferences', 'max_replicas_per_node'] }),
  },
  jsonAlways: ['resources', 'placement'],
});

const VOLUME_MOUNT: Conv = (v, f) => {
  if (!isObj(v)) return v;
  const b = isObj(v.bind) ? { ...v.bind } : undefined;
  // create_host_path defaults to true, and Compose prints only a false one.
  if (b && b.create_host_path === true) delete b.create_host_path;
  const out = shaped({ ...v, ...(b ? { bind: b } : {}) }, {
    order: ['type', 'source', 'target', 'read_only', 'consistency', 'bind', 'volume', 'tmpfs', 'image'],
    conv: {
      bind: (x) => shaped(x, { order: ['selinux', 'propagation', 'create_host_path', 'recursive'] }, f),
      volume: (x) => shaped(x, { order: ['labels', 'nocopy', 'subpath'] }, f),
      tmpfs: (x) => shaped(x, { order: ['size', 'mode'], conv: { size: bytes } }, f),
    },
  }, f) as Obj;
  // A bind or volume section left empty is still printed ({}), as Compose keeps the pointer.
  for (const k of ['bind', 'volume', 'tmpfs'] as const) if (isObj(v[k]) && !(k in out)) out[k] = {};
  return out;
};

/**
 * blkio_config: throttle rates are byte sizes. Compose's device structs have
 * no field tags, so JSON names their fields as Go does (Path, Rate, Weight)
 * and YAML in lower case.
 */
const BLKIO: Conv = (v, f) => {
  if (!isObj(v)) return v;
  const key = (k: string): string => (f === 'json' ? k[0].toUpperCase() + k.slice(1) : k);
  const device = (d: unknown, field: 'rate' | 'weight'): unknown =>
    isObj(d) ? { [key('path')]: d.path, [key(field)]: field === 'rate' ? unitBytes(d.rate) : d.weight } : d;
  const throttle: Conv = (x) => (Array.isArray(x) ? x.map((d) => device(d, 'rate')) : x);
  return shaped(v, {
    order: ['weight', 'weight_device', 'device_read_bps', 'device_read_iops', 'device_write_bps', 'device_write_iops'],
    conv: { weight_device: (x) => (Array.isArray(x) ? x.map((d) => device(d, 'weight')) : x), device_read_bps: throttle, device_read_iops: throttle, device_write_bps: throttle, device_write_iops: throttle },
  }, f);
};

/** A lifecycle hook (pre_start, develop.watch exec...); JSON always prints its command. */
const HOOK: Conv = (v, f) => {
  if (!isObj(v)) return v;
  const h = shaped(v, { order: ['command', 'image', 'user', 'privileged', 'working_dir', 'environment', 'per_replica'], conv: { environment: (x) => (isObj(x) ? sortKeys(x) : x) } }, f) as Obj;
  if (v.privileged === false) delete h.privileged;
  return f === 'json' ? { command: h.command ?? null, ...h } : h;
};

/** A device request (gpus, reservations.devices): "all" is a count of -1, and no count nor ids means all. */
const DEVICE_REQUEST: Conv = (v, f) => {
  if (!isObj(v)) return v;
  const d: Obj = { ...v };
  if (d.count === undefined && d.device_ids === undefined) d.count = 'all';
  if (typeof d.count === 'string') d.count = d.count.toLowerCase() === 'all' ? -1 : num(d.count);
  return shaped(d, { order: ['capabilities', 'driver', 'count', 'device_ids', 'options'], conv: { options: stringMap } }, f);
};

/** A device given as SOURCE[:TARGET[:PERMISSIONS]] in long form, permissions "rwm" by default. */
const DEVICE: Conv = (v, f) => {
  if (typeof v === 'string') {
    const [source, target, permissions] = v.split(':');
    if (v.split(':').length <= 3) return { source, target: target || source, permissions: permissions ?? 'rwm' };
  }
  return shaped(v, { order: ['source', 'target', 'permissions'] }, f);
};

const DEVELOP: Conv = (v, f) =>
  shaped(v, {
    order: ['watch'],
    conv: {
      watch: each((t, g) => {
        if (!isObj(t)) return t;
        const o = shaped(t, { order: ['path', 'action', 'target', 'exec', 'include', 'ignore', 'initial_sync'], conv: { exec: HOOK, include: strings, ignore: strings } }, g) as Obj;
        // exec is a struct value in Compose's model: JSON prints it ({"command": null}) even when not set.
        if (g === 'json' && !('exec' in o)) {
          const ordered: Obj = {};
          for (const [k, x] of Object.entries(o)) {
            if (k === 'include' || k === 'ignore' || k === 'initial_sync') ordered.exec ??= { command: null };
            ordered[k] = x;
          }
          ordered.exec ??= { command: null };
          return ordered;
        }
        return o;
      }),
    },
  }, f);

const HEALTHCHECK = shape({ order: ['test', 'timeout', 'interval', 'retries', 'start_period', 'start_interval', 'disable'], conv: { timeout: dur, interval: dur, start_period: dur, start_interval: dur } });

const SERVICE_NETWORK = shape({ order: ['aliases', 'driver_opts', 'gw_priority', 'interface_name', 'ipv4_address', 'ipv6_address', 'link_local_ips', 'mac_address', 'priority'], conv: { driver_opts: stringMap } });

const SERVICE_ORDER = [
  'profiles', 'annotations', 'attach', 'build', 'develop', 'blkio_config', 'cap_add', 'cap_drop', 'cgroup_parent', 'cgroup',
  'cpu_count', 'cpu_percent', 'cpu_period', 'cpu_quota', 'cpu_rt_period', 'cpu_rt_runtime', 'cpus', 'cpuset', 'cpu_shares',
  'command', 'configs', 'container_name', 'credential_spec', 'depends_on', 'deploy', 'device_cgroup_rules', 'devices', 'dns',
  'dns_opt', 'dns_search', 'dockerfile', 'domainname', 'entrypoint', 'provider', 'environment', 'env_file', 'expose', 'extends',
  'external_links', 'extra_hosts', 'group_add', 'gpus', 'hostname', 'healthcheck', 'image', 'init', 'ipc', 'isolation', 'labels',
  'label_file', 'links', 'logging', 'log_driver', 'log_opt', 'mem_limit', 'mem_reservation', 'memswap_limit', 'mem_swappiness',
  'mac_address', 'models', 'net', 'network_mode', 'networks', 'oom_kill_disable', 'oom_score_adj', 'pid', 'pids_limit', 'platform',
  'ports', 'privileged', 'pull_policy', 'read_only', 'restart', 'runtime', 'scale', 'secrets', 'security_opt', 'shm_size',
  'stdin_open', 'stop_grace_period', 'stop_signal', 'storage_opt', 'sysctls', 'tmpfs', 'tty', 'ulimits', 'use_api_socket', 'user',
  'userns_mode', 'uts', 'volume_driver', 'volumes', 'volumes_from', 'working_dir', 'pre_start', 'post_start', 'pre_stop',
];

const SERVICE: Shape = {
  order: SERVICE_ORDER,
  conv: {
    annotations: stringMap,
    blkio_config: BLKIO,
    build: BUILD,
    cpus: num,
    configs: each(FILE_REF),
    develop: DEVELOP,
    devices: each(DEVICE),
    gpus: (v, f) => (typeof v === 'string' ? [DEVICE_REQUEST({}, f)] : each(DEVICE_REQUEST)(v, f)),
    models: values(shape({ order: ['endpoint_var', 'model_var'] })),
    pre_start: each(HOOK),
    post_start: each(HOOK),
    pre_stop: each(HOOK),
    depends_on: values(shape({ order: ['condition', 'restart', 'required'] })),
    deploy: DEPLOY,
    dns: strings,
    dns_search: strings,
    tmpfs: strings,
    environment: (v) => (isObj(v) ? sortKeys(v) : v),
    expose: (v) => (Array.isArray(v) ? v.map(String) : v),
    extra_hosts: hostsList,
    healthcheck: HEALTHCHECK,
    labels: stringMap,
    logging: shape({ order: ['driver', 'options'], conv: { options: stringMap } }),
    mem_limit: bytes,
    mem_reservation: bytes,
    memswap_limit: bytes,
    mem_swappiness: bytes,
    networks: values(SERVICE_NETWORK),
    ports: each(shape({ order: ['name', 'mode', 'host_ip', 'target', 'published', 'protocol', 'app_protocol'] })),
    secrets: each(FILE_REF),
    shm_size: bytes,
    stop_grace_period: dur,
    storage_opt: stringMap,
    sysctls: stringMap,
    ulimits: ULIMITS,
    volumes: each(VOLUME_MOUNT),
  },
};

const NETWORK: Shape = {
  order: ['name', 'driver', 'driver_opts', 'ipam', 'external', 'internal', 'attachable', 'labels', 'enable_ipv4', 'enable_ipv6'],
  jsonAlways: ['ipam'],
  conv: { driver_opts: stringMap, labels: stringMap, ipam: shape({ order: ['driver', 'config', 'options'], conv: { options: stringMap, config: each(shape({ order: ['subnet', 'gateway', 'ip_range', 'aux_addresses'], conv: { aux_addresses: stringMap } })) } }) },
};
const VOLUME: Shape = { order: ['name', 'driver', 'driver_opts', 'external', 'labels'], conv: { driver_opts: stringMap, labels: stringMap } };
const MODEL: Shape = { order: ['name', 'model', 'context_size', 'runtime_flags'] };
const FILE_OBJECT: Shape = { order: ['name', 'file', 'environment', 'content', 'external', 'labels', 'driver', 'driver_opts', 'template_driver'], conv: { labels: stringMap, driver_opts: stringMap } };

function service(s: ServiceConfig, format: Format): Obj {
  const { name: _n, ...body } = s;
  // false booleans are Go's zero values, left out like empty ones.
  for (const k of ['privileged', 'read_only', 'stdin_open', 'tty', 'oom_kill_disable', 'use_api_socket'] as const) if (body[k] === false) delete body[k];
  const out = shaped(body, SERVICE, format) as Obj;
  if (s.command === null) delete out.command;
  if (s.entrypoint === null) delete out.entrypoint;
  // An explicitly empty command is kept ([]): it clears the image's.
  if (Array.isArray(s.command) && s.command.length === 0) out.command = [];
  if (Array.isArray(s.entrypoint) && s.entrypoint.length === 0) out.entrypoint = [];
  if (format === 'json') {
    // Go's encoder prints these two even when unset (null), and in field order.
    const ordered: Obj = {};
    for (const k of SERVICE_ORDER) {
      if (k === 'command' || k === 'entrypoint') ordered[k] = out[k] ?? null;
      else if (k in out) ordered[k] = out[k];
    }
    for (const k of Object.keys(out)) if (!(k in ordered)) ordered[k] = out[k];
    return ordered;
  }
  return out;
}

/** The resources at least one of the shown services uses; Compose prints only those. */
function used(p: ComposeProject): Record<'networks' | 'volumes' | 'secrets' | 'configs' | 'models', Set<string>> {
  const u = { networks: new Set<string>(), volumes: new Set<string>(), secrets: new Set<string>(), configs: new Set<string>(), models: new Set<string>() };
  for (const s of Object.values(p.services)) {
    for (const n of Object.keys(s.networks)) u.networks.add(n);
    for (const v of s.volumes) if (v.type === 'volume' && v.source) u.volumes.add(v.source);
    for (const r of s.secrets) u.secrets.add(r.source);
    for (const r of s.configs) u.configs.add(r.source);
    for (const m of Object.keys(isObj(s.models) ? s.models : {})) u.models.add(m);
    const bs = isObj(s.build) && Array.isArray(s.build.secrets) ? s.build.secrets : [];
    for (const r of bs) u.secrets.add(typeof r === 'string' ? r : isObj(r) ? String(r.source) : '');
  }
  return u;
}

/** Doubles every `$` in strings and keys, so the printed file reads back as it was loaded. */
function escapeDollars(v: unknown): unknown {
  // A function, because "$$" in a replacement string means one "$".
  if (typeof v === 'string') return v.replaceAll('$', () => '$$');
  if (Array.isArray(v)) return v.map(escapeDollars);
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replaceAll('$', () => '$$'), escapeDollars(x)]));
  return v;
}

/** The project as a plain object in `docker compose config`'s shape (before `$` escaping). */
export function configObject(p: ComposeProject, format: Format): Obj {
  const { workingDir: _w, files: _f, name, services, networks, volumes, secrets, configs, models, ...extensions } = p;
  const u = used(p);
  const section = (all: Record<string, object>, keep: Set<string>, s: Shape): Obj | undefined => {
    const out: Obj = {};
    for (const k of Object.keys(all).sort()) {
      if (!keep.has(k)) continue;
      out[k] = shaped(all[k], s, format);
    }
    return Object.keys(out).length > 0 ? out : undefined;
  };
  const out: Obj = { name, services: Object.fromEntries(Object.keys(services).sort().map((k) => [k, service(services[k], format)])) };
  const parts: [string, Obj | undefined][] = [
    ['networks', section(networks, u.networks, NETWORK)],
    ['volumes', section(volumes, u.volumes, VOLUME)],
    // A secret's content is never printed (Compose reads it only to create the secret).
    ['secrets', section(Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, { ...v, content: undefined }])), u.secrets, FILE_OBJECT)],
    ['configs', section(configs, u.configs, FILE_OBJECT)],
    // Compose's JSON leaves top-level models out (its MarshalJSON lists the other sections only).
    ['models', format === 'json' ? undefined : section(models ?? {}, u.models, MODEL)],
  ];
  for (const [k, v] of parts) if (v) out[k] = v;
  for (const k of Object.keys(extensions).sort()) if (k.startsWith('x-')) out[k] = extensions[k];
  return format === 'json' ? sortKeys(out) : out;
}

/** The project as `docker compose config` prints it. */
export function formatConfig(p: ComposeProject, format: Format, opts: FormatOptions = {}): string {
  let doc: unknown = configObject(p, format);
  if (!opts.noInterpolate) doc = escapeDollars(doc);
  if (format === 'json') {
    // Go's encoder escapes these for HTML; JSON readers see the same strings.
    return JSON.stringify(doc, null, 2).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`) + '\n';
  }
  return stringify(doc, { aliasDuplicateObjects: false, lineWidth: 0 });
}

export const formatConfigInternals = { stringMap, hostsList, fileMode };

#!/usr/bin/env node
// Compares baton's reading of Compose files with Docker Compose's.
//
//   node scripts/compare-compose.mjs [--markdown] [--verbose] [--json] DIR...
//
// For every Compose file under the folders (compose.yaml, docker-compose.yml
// and the like; with --markdown also every ```yaml block of a *.md file that
// has a top-level `services:`), it runs `baton config --format json` and
// `docker-compose config` (Compose v1, Debian's docker-compose 1.29, as a
// second opinion: v2 cannot be installed here) and prints whether baton loads
// the file and how its normalized form differs from v1's once v1's output has
// been brought to v2's shape with V1_TO_V2 below: a table of the documented
// ways v2 normalizes differently, each with where the fact comes from. Where v1
// and v2 differ, v2 wins, so a remaining difference is either a baton bug or a
// row missing from that table.
//
// A file baton refuses is matched against V2_REFUSES: the checks Compose v2
// makes too, so an example that only illustrates a key (no image, an undefined
// network) is told apart from a valid file baton fails to read.
//
// Needs `npm run build` (it runs bin/baton.js) and docker-compose on PATH.
// Both tools see the same small environment (PATH, HOME), so interpolation
// agrees. Exit code: 0 when every file baton refuses is refused by v2 too and
// no difference is left, 1 otherwise.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isSeq, parse, parseDocument, visit } from 'yaml';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BATON = join(REPO, 'bin', 'baton.js');

// ---------------------------------------------------------------------------
// Small helpers, written from Compose v2's documented rules (not from baton's
// code, so the two can disagree).

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Go's time.Duration.String() of a Compose duration ("90s" -> "1m30s"). */
function goDuration(v) {
  if (typeof v === 'number') v = `${v}s`;
  if (typeof v !== 'string') return v;
  const unit = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 6e10, h: 3.6e12, d: 8.64e13 };
  let ns = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/gy;
  let m;
  let pos = 0;
  while ((m = re.exec(v))) {
    ns += Number(m[1]) * unit[m[2]];
    pos = re.lastIndex;
  }
  if (pos !== v.length || v === '') return v;
  ns = Math.round(ns);
  if (ns === 0) return '0s';
  const frac = (n, u) => {
    const w = Math.floor(n / u);
    const r = n % u;
    return r === 0 ? String(w) : `${w}.${String(r).padStart(String(u).length - 1, '0').replace(/0+$/, '')}`;
  };
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${frac(ns, 1e3)}µs`;
  if (ns < 1e9) return `${frac(ns, 1e6)}ms`;
  const h = Math.floor(ns / 3.6e12);
  const mi = Math.floor((ns % 3.6e12) / 6e10);
  return `${h ? `${h}h` : ''}${h || mi ? `${mi}m` : ''}${frac(ns % 6e10, 1e9)}s`;
}

/** docker/go-units RAMInBytes, printed as Compose's UnitBytes does (a string of bytes). */
function bytes(v) {
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') return v;
  if (/^-?\d+$/.test(v)) return v;
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(v);
  if (!m) return v;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[(m[2] ?? '').toLowerCase()];
  return String(Math.trunc(Number(m[1]) * mult));
}

/** go-shellwords as Compose uses it for string commands (quotes and backslashes, no expansion). */
function shellWords(s) {
  const out = [];
  let cur = '';
  let have = false;
  let q = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q === "'") {
      if (c === "'") q = '';
      else cur += c;
    } else if (q === '"') {
      if (c === '"') q = '';
      else if (c === '\\' && i + 1 < s.length && '"\\$`'.includes(s[i + 1])) cur += s[++i];
      else cur += c;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      have = true;
    } else if (c === "'" || c === '"') {
      q = c;
      have = true;
    } else if (/\s/.test(c)) {
      if (have || cur) out.push(cur);
      cur = '';
      have = false;
    } else cur += c;
  }
  if (have || cur) out.push(cur);
  return out;
}

/** compose-go format.ParseVolume: SOURCE:TARGET[:MODE] into the long syntax. */
function longVolume(spec) {
  const parts = spec.length <= 2 ? [spec] : spec.split(':');
  const v = {};
  if (parts.length === 1) v.target = parts[0];
  else [v.source, v.target] = parts;
  const isPath = v.source !== undefined && /^[./~]/.test(v.source);
  v.type = isPath ? 'bind' : 'volume';
  const bind = {};
  for (const o of (parts[2] ?? '').split(',').filter(Boolean)) {
    if (o === 'ro') v.read_only = true;
    else if (o === 'nocopy') v.volume = { nocopy: true };
    else if (o === 'z' || o === 'Z') bind.selinux = o;
    else if (['rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave'].includes(o)) bind.propagation = o;
  }
  if (isPath) v.bind = bind;
  else v.volume ??= {};
  return v;
}

/** docker/go-connections nat.ParsePortSpec, as Compose expands a short port. */
function longPorts(spec) {
  const s = String(spec);
  const [body, proto = 'tcp'] = s.split('/');
  let ip;
  let rest = body;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(body);
  if (v6) [, ip, rest] = v6;
  let parts = rest.split(':');
  if (!v6 && parts.length === 3) ip = parts.shift();
  else if (v6) parts = rest.split(':');
  const [pub, target] = parts.length === 1 ? [undefined, parts[0]] : parts;
  const [t0, t1 = t0] = target.split('-').map(Number);
  const pubs = pub ? pub.split('-').map(Number) : [];
  const out = [];
  for (let t = t0; t <= t1; t++) {
    const p = { mode: 'ingress', ...(ip ? { host_ip: ip } : {}), target: t, protocol: proto };
    if (pub) p.published = t1 > t0 && pubs.length === 2 ? String(pubs[0] + t - t0) : pub;
    out.push(p);
  }
  return out;
}

const DURATIONS = [
  ['healthcheck', 'interval'], ['healthcheck', 'timeout'], ['healthcheck', 'start_period'], ['healthcheck', 'start_interval'],
  ['stop_grace_period'], ['deploy', 'restart_policy', 'delay'], ['deploy', 'restart_policy', 'window'],
];
const SIZES = [['mem_limit'], ['mem_reservation'], ['memswap_limit'], ['shm_size'], ['deploy', 'resources', 'limits', 'memory'], ['deploy', 'resources', 'reservations', 'memory']];

function edit(o, path, f) {
  const last = path[path.length - 1];
  for (const k of path.slice(0, -1)) {
    if (!isObj(o?.[k])) return;
    o = o[k];
  }
  if (o[last] !== undefined) o[last] = f(o[last]);
}

// ---------------------------------------------------------------------------
// V1_TO_V2: how Compose v2 normalizes differently from v1 (docker-compose 1.29).
// Each row: what v2 does, where that is stated (compose-spec/compose-go,
// docker/compose), and how v1's printed output is brought to it.

const V1_TO_V2 = [
  {
    fact: 'services whose profiles are not enabled are not printed (v1 prints them all)',
    source: 'compose-go types/project.go WithProfiles, called by loader.ModelToProject',
    apply(doc, ctx) {
      for (const [n, s] of Object.entries(doc.services ?? {})) {
        if (Array.isArray(s.profiles) && s.profiles.length > 0 && !s.profiles.some((p) => ctx.profiles.includes(p))) delete doc.services[n];
      }
    },
  },
  {
    fact: 'v2 drops the obsolete top-level `version` and prints the project `name` first',
    source: 'compose-go loader/loader.go (deletes "version"; projectName()), types/project.go Project.Name',
    apply(doc, ctx) {
      delete doc.version;
      doc.name = ctx.name;
    },
  },
  {
    fact: 'ports in long syntax, with mode "ingress" and protocol "tcp" defaults, published as a string',
    source: 'compose-go transform/ports.go, transform/defaults.go portDefaults, types.ServicePortConfig (Published string)',
    service(s) {
      if (!Array.isArray(s.ports)) return;
      s.ports = s.ports.flatMap((p) => {
        if (!isObj(p)) return longPorts(p);
        const o = { mode: 'ingress', ...p, protocol: p.protocol ?? 'tcp' };
        if (o.published !== undefined) o.published = String(o.published);
        return [o];
      });
    },
  },
  {
    fact: 'expose entries are strings',
    source: 'compose-go types.StringOrNumberList',
    service(s) {
      if (Array.isArray(s.expose)) s.expose = s.expose.map(String);
    },
  },
  {
    fact: 'volumes in long syntax (bind/volume sections; the default create_host_path: true is not printed), targets cleaned',
    source: 'compose-go format/volume.go ParseVolume, loader/normalize.go (path.Clean of target), types.OptOut IsZero (omitempty)',
    service(s) {
      if (!Array.isArray(s.volumes)) return;
      s.volumes = s.volumes.map((v) => {
        if (typeof v === 'string') return longVolume(v);
        if (isObj(v.bind) && v.bind.create_host_path === true) delete v.bind.create_host_path;
        return v;
      });
    },
  },
  {
    fact: 'a secret without a target is mounted at /run/secrets/<source>; file modes print in octal ("0400")',
    source: 'compose-go transform/defaults.go defaultSecretMount, types.FileMode MarshalJSON',
    service(s) {
      for (const k of ['secrets', 'configs']) {
        if (!Array.isArray(s[k])) continue;
        s[k] = s[k].map((r) => {
          const o = typeof r === 'string' ? { source: r } : { ...r };
          if (k === 'secrets' && o.target === undefined) o.target = `/run/secrets/${o.source}`;
          if (typeof o.mode === 'number') o.mode = `0${o.mode.toString(8)}`;
          return o;
        });
      }
    },
  },
  {
    fact: 'depends_on entries get required: true; links, network_mode/ipc/pid "service:X" and volumes_from add dependencies; v2 keeps volumes_from as written where v1 prints "service:X:rw"',
    source: 'compose-go transform/dependson.go, loader/normalize.go Normalize()',
    service(s) {
      let d = s.depends_on;
      if (Array.isArray(d)) d = Object.fromEntries(d.map((n) => [n, { condition: 'service_started' }]));
      d = isObj(d) ? d : {};
      for (const v of Object.values(d)) v.required ??= true;
      const add = (n, restart) => (d[n] ??= { condition: 'service_started', restart, required: true });
      for (const l of s.links ?? []) add(l.split(':').length === 2 ? l.split(':')[0] : l, true);
      for (const ns of ['network_mode', 'ipc', 'pid']) if (typeof s[ns] === 'string' && s[ns].startsWith('service:')) add(s[ns].slice(8), true);
      if (Array.isArray(s.volumes_from)) {
        // v1 writes "service:NAME:rw" for "NAME"; the mode it adds cannot be told from one written, so :rw is taken as added.
        s.volumes_from = s.volumes_from.map((v) => v.replace(/^service:/, '').replace(/:rw$/, ''));
        for (const v of s.volumes_from) if (!v.startsWith('container:')) add(v.split(':')[0], false);
      }
      if (Object.keys(d).length > 0) s.depends_on = d;
    },
  },
  {
    fact: 'a service with no networks (and no network_mode) is on "default"; lists become mappings',
    source: 'compose-go loader/normalize.go normalizeNetworks, transform/services.go transformStringSliceToMap',
    service(s) {
      if (Array.isArray(s.networks)) s.networks = Object.fromEntries(s.networks.map((n) => [n, null]));
      if ((!isObj(s.networks) || Object.keys(s.networks).length === 0) && s.network_mode === undefined) s.networks = { default: null };
    },
  },
  {
    fact: 'build is a mapping with dockerfile "Dockerfile" by default; build args without a value (and unset) are dropped',
    source: 'compose-go transform/build.go, loader/normalize.go (dockerfile default, resolve(args, keepEmpty=false))',
    service(s) {
      if (s.build === undefined) return;
      if (typeof s.build === 'string') s.build = { context: s.build };
      if (s.build.dockerfile === undefined && s.build.dockerfile_inline === undefined) s.build.dockerfile = 'Dockerfile';
      if (isObj(s.build.args)) for (const [k, v] of Object.entries(s.build.args)) if (v === null) delete s.build.args[k];
    },
  },
  {
    fact: 'command and entrypoint are lists (shell words of a string); JSON prints both, null when unset',
    source: 'compose-go types.ShellCommand (go-shellwords; json:"command" without omitempty)',
    service(s) {
      for (const k of ['command', 'entrypoint']) {
        if (typeof s[k] === 'string') s[k] = shellWords(s[k]);
        s[k] ??= null;
      }
    },
  },
  {
    fact: 'healthcheck.test as a string is ["CMD-SHELL", string]; durations print as Go does ("1m0s")',
    source: 'compose-go types.HealthCheckTest DecodeMapstructure, types.Duration MarshalJSON (time.Duration.String)',
    service(s) {
      if (isObj(s.healthcheck) && typeof s.healthcheck.test === 'string') s.healthcheck.test = ['CMD-SHELL', s.healthcheck.test];
      for (const p of DURATIONS) edit(s, p, goDuration);
      for (const k of ['update_config', 'rollback_config']) {
        for (const f of ['delay', 'monitor']) {
          edit(s, ['deploy', k, f], goDuration);
          if (s.deploy?.[k]?.[f] === '0s') delete s.deploy[k][f];
        }
      }
    },
  },
  {
    fact: 'byte sizes print as a string of bytes ("512M" -> "536870912"); cpus as numbers',
    source: 'compose-go types.UnitBytes MarshalJSON, types.NanoCPUs',
    service(s) {
      for (const p of SIZES) edit(s, p, bytes);
      for (const v of s.volumes ?? []) if (isObj(v?.tmpfs) && v.tmpfs.size !== undefined) v.tmpfs.size = bytes(v.tmpfs.size);
      for (const k of ['limits', 'reservations']) edit(s, ['deploy', 'resources', k, 'cpus'], Number);
      if (s.cpus !== undefined) s.cpus = Number(s.cpus);
    },
  },
  {
    fact: 'JSON prints deploy.resources and deploy.placement even when empty (Go does not omit empty structs)',
    source: 'compose-go types.DeployConfig (Resources, Placement are struct values); encoding/json omitempty',
    service(s) {
      if (!isObj(s.deploy)) return;
      s.deploy.resources ??= {};
      s.deploy.placement ??= {};
    },
  },
  {
    fact: 'environment values are strings (v1 prints numbers and booleans as YAML scalars)',
    source: 'compose-go types.MappingWithEquals (map[string]*string)',
    service(s) {
      if (isObj(s.environment)) s.environment = Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, v === null ? null : String(v)]));
    },
  },
  {
    fact: 'pull_policy "if_not_present" is "missing"',
    source: 'compose-go loader/normalize.go',
    service(s) {
      if (s.pull_policy === 'if_not_present') s.pull_policy = 'missing';
    },
  },
  {
    fact: 'dns, dns_search and tmpfs given as a string are lists; sysctls and labels values are strings; extra_hosts a sorted "host=ip" list',
    source: 'compose-go transform/canonical.go transformStringOrList, types.Mapping, types.Labels, types.HostsList MarshalJSON',
    service(s) {
      for (const k of ['dns', 'dns_search', 'tmpfs']) if (typeof s[k] === 'string') s[k] = [s[k]];
      for (const k of ['sysctls', 'labels']) {
        if (Array.isArray(s[k])) s[k] = Object.fromEntries(s[k].map((e) => (e.includes('=') ? [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] : [e, ''])));
        if (isObj(s[k])) s[k] = Object.fromEntries(Object.entries(s[k]).map(([a, b]) => [a, b === null ? '' : String(b)]));
      }
      if (Array.isArray(s.extra_hosts)) s.extra_hosts = s.extra_hosts.map((e) => e.replace(/^([^=:]+)[:=]/, '$1=')).sort();
    },
  },
  {
    fact: 'false booleans (privileged, read_only, tty, stdin_open, ...) are not printed',
    source: 'compose-go types.ServiceConfig (plain bool fields with omitempty)',
    service(s) {
      for (const k of ['privileged', 'read_only', 'stdin_open', 'tty', 'oom_kill_disable']) if (s[k] === false) delete s[k];
    },
  },
  {
    fact: 'top-level resources carry their name (<project>_<key>, or the key when external); the default network exists when used; external.name is name + external: true',
    source: 'compose-go loader/normalize.go setNameFromKey and normalizeNetworks, transform/external.go',
    apply(doc, ctx) {
      for (const k of ['networks', 'volumes', 'secrets', 'configs']) {
        if (!isObj(doc[k])) continue;
        for (const [key, v0] of Object.entries(doc[k])) {
          const v = isObj(v0) ? v0 : {};
          if (isObj(v.external)) {
            if (v.external.name !== undefined) v.name ??= v.external.name;
            v.external = true;
          }
          v.name ??= v.external ? key : `${ctx.name}_${key}`;
          doc[k][key] = v;
        }
      }
      const services = Object.values(doc.services ?? {});
      if (services.some((s) => isObj(s.networks) && 'default' in s.networks)) {
        doc.networks ??= {};
        doc.networks.default ??= { name: `${ctx.name}_default` };
      }
    },
  },
  {
    fact: 'config prints only the networks, volumes, secrets and configs some service uses',
    source: 'docker/compose pkg/compose/loader.go postProcessProject -> compose-go Project.WithoutUnnecessaryResources',
    apply(doc, ctx) {
      // Build secrets count as used; v1 may not have seen them (unknown to it), so they come from the file.
      const used = { networks: new Set(), volumes: new Set(), secrets: new Set(ctx.buildSecrets), configs: new Set() };
      for (const s of Object.values(doc.services ?? {})) {
        for (const n of Object.keys(s.networks ?? {})) used.networks.add(n);
        for (const v of s.volumes ?? []) if (v.type === 'volume' && v.source) used.volumes.add(v.source);
        for (const r of s.secrets ?? []) used.secrets.add(r.source);
        for (const r of s.configs ?? []) used.configs.add(r.source);
      }
      for (const k of Object.keys(used)) {
        if (!isObj(doc[k])) continue;
        for (const key of Object.keys(doc[k])) if (!used[k].has(key)) delete doc[k][key];
        if (Object.keys(doc[k]).length === 0) delete doc[k];
      }
    },
  },
  {
    fact: 'blkio_config throttles: rates are byte sizes (a string of bytes); JSON names the fields Path, Rate and Weight (the Go fields have no json tags)',
    source: 'compose-go types.ThrottleDevice, types.WeightDevice, types.UnitBytes',
    service(s) {
      const b = s.blkio_config;
      if (!isObj(b)) return;
      for (const k of ['device_read_bps', 'device_write_bps', 'device_read_iops', 'device_write_iops']) {
        if (Array.isArray(b[k])) b[k] = b[k].map((d) => ({ Path: d.path, Rate: bytes(d.rate) }));
      }
      if (Array.isArray(b.weight_device)) b.weight_device = b.weight_device.map((d) => ({ Path: d.path, Weight: d.weight }));
    },
  },
  {
    fact: 'JSON prints a network\'s ipam even when empty',
    source: 'compose-go types.NetworkConfig (Ipam is a struct value); encoding/json omitempty',
    apply(doc) {
      for (const n of Object.values(doc.networks ?? {})) n.ipam ??= {};
    },
  },
];

function v1ToV2(doc, ctx) {
  for (const row of V1_TO_V2) {
    if (row.service) for (const s of Object.values(doc.services ?? {})) if (isObj(s)) row.service(s, ctx);
  }
  for (const row of V1_TO_V2) if (row.apply) row.apply(doc, ctx);
  return doc;
}

// ---------------------------------------------------------------------------
// What is not compared, and why.

/**
 * Extension keys (x-*): v1 drops the top-level ones, v2's JSON drops those
 * inside services (compose-go types.ServiceConfig Extensions json:"-"), and
 * baton keeps both (its own x-baton lives there). Left out on both sides.
 */
function dropExtensions(v, depth = 0) {
  if (Array.isArray(v)) return v.map((x) => dropExtensions(x, depth + 1));
  if (!isObj(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith('x-')).map(([k, x]) => [k, dropExtensions(x, depth + 1)]));
}

/**
 * Differences v1's output cannot be brought back from (it dropped what v2
 * keeps): a difference matching one of these is explained, not counted.
 */
const EXPLAINED = [
  {
    fact: 'v1 cleans an absolute bind source ("/etc/x/" -> "/etc/x"); v2 keeps it as written',
    source: 'compose-go paths/unix.go maybeUnixPath (absolute paths returned unchanged)',
    match: (path, ours, theirs) => /\.volumes\[\d+\]\.source$/.test(path) && typeof ours === 'string' && ours.replace(/\/+$/, '') === theirs,
  },
];

// ---------------------------------------------------------------------------
// V2_REFUSES: baton's refusals that Compose v2 makes too (compose-go), so a
// file refused for one of these is an invalid file, not a baton failure.

const V2_REFUSES = [
  [/has neither an image nor a build context/, 'compose-go loader/validate.go checkConsistency: neither an image nor a build context'],
  [/uses undefined (network|volume|secret|config|model)/, 'compose-go loader/validate.go checkConsistency: refers to undefined network/volume/secret/config/model'],
  [/depends on undefined service/, 'compose-go loader/validate.go checkConsistency: depends on undefined service'],
  [/unknown key|invalid name/, 'compose-spec JSON schema (additionalProperties), checked by compose-go schema.Validate'],
  [/expected .*, got|missing the required key|expected one of/, 'compose-spec JSON schema (types), checked by compose-go schema.Validate'],
  [/duplicate key/, 'go.yaml.in/yaml/v4 refuses a mapping key defined twice'],
  [/included file .* not found|extended file .* not found|env file .* not found|label file .* not found/, 'compose-go loader: a referenced file must exist'],
  [/no such file/, 'compose-go: a secret or config file must exist'],
];

// ---------------------------------------------------------------------------

function diff(a, b, path, out) {
  if (out.length > 200) return;
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in a)) out.push(`${p}: baton has nothing, v2 ${JSON.stringify(b[k])}`);
      else if (!(k in b)) out.push(`${p}: baton ${JSON.stringify(a[k])}, v2 has nothing`);
      else diff(a[k], b[k], p, out);
    }
  } else if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((x, i) => diff(x, b[i], `${path}[${i}]`, out));
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    const why = EXPLAINED.find((e) => e.match(path, a, b));
    out.push(why ? { explained: `${path}: baton ${JSON.stringify(a)}, v1 ${JSON.stringify(b)}: ${why.fact}` } : `${path}: baton ${JSON.stringify(a)}, v2 ${JSON.stringify(b)}`);
  }
}

/** Key paths v1 names as unknown to it (keys newer than Compose 1.29, values it does not accept). */
function v1UnknownKeys(err) {
  const out = [];
  const add = (prefix, key) => out.push([...(prefix ? prefix.split('.') : []), key]);
  for (const m of err.matchAll(/Unsupported config option for ([\w.-]+): '([^']+)'/g)) add(m[1], m[2]);
  for (const m of err.matchAll(/([\w.-]+) contains unsupported option: '([^']+)'/g)) add(m[1], m[2]);
  for (const m of err.matchAll(/(?:^|\n)'([^']+)' does not match any of the regexes: '\^x-'/g)) add('', m[1]);
  for (const m of err.matchAll(/([\w.-]+) value '([^']+)' does not match any of the regexes/g)) add(m[1], m[2]);
  for (const m of err.matchAll(/([\w.-]+)\.([\w-]+) value '[^']*' is not one of/g)) add(m[1], m[2]);
  return out;
}

/**
 * Deletes the key at path or, when the parent has no such key, that key
 * anywhere below the parent: v1 names "services.web.depends_on ... 'restart'"
 * for services.web.depends_on.db.restart, and "volumes ... 'subpath'" for
 * volumes[0].volume.subpath.
 */
function stripKey(o, path) {
  let parent = o;
  for (const k of path.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object' || !(k in parent)) return;
    parent = parent[k];
  }
  const last = path[path.length - 1];
  const below = (v) => {
    if (Array.isArray(v)) v.forEach(below);
    else if (isObj(v)) {
      delete v[last];
      Object.values(v).forEach(below);
    }
  };
  if (isObj(parent) && last in parent) delete parent[last];
  else below(parent);
}

/** stripKey on a YAML document, so the rest of it is written back as it was. */
function stripDocKey(doc, path) {
  if (doc.hasIn(path)) return doc.deleteIn(path);
  const last = path[path.length - 1];
  const below = (n) => {
    if (isMap(n)) {
      n.delete(last);
      for (const item of n.items) below(item.value);
    } else if (isSeq(n)) n.items.forEach(below);
  };
  below(doc.getIn(path.slice(0, -1), true));
}

function run(cmd, args, opts) {
  return new Promise((done) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e) => done({ code: 127, out, err: String(e) }));
    p.on('close', (code) => done({ code, out, err }));
  });
}

const COMPOSE_NAME = /^(docker-)?compose(\.[\w-]+)?\.ya?ml$/;

// A document that includes others (the spec's spec.md) repeats their examples: each text is compared once.
const seenExamples = new Set();

function walk(dir, found, markdown, tmp) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === '.git' || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, found, markdown, tmp);
    else if (COMPOSE_NAME.test(e.name) && !e.name.includes('.override.')) found.push({ file: p, label: p });
    else if (markdown && e.name.endsWith('.md')) {
      // Each example becomes its own folder (named after the document and line), so each is its own project.
      const text = readFileSync(p, 'utf8');
      for (const m of text.matchAll(/^```ya?ml[^\n]*\n([\s\S]*?)^```/gm)) {
        if (!/^services:/m.test(m[1]) || seenExamples.has(m[1])) continue;
        seenExamples.add(m[1]);
        const line = text.slice(0, m.index).split('\n').length + 1;
        const folder = join(tmp, `${basename(e.name, '.md')}-${line}`);
        mkdirSync(folder, { recursive: true });
        writeFileSync(join(folder, 'compose.yaml'), m[1]);
        // v1 refuses a build context that does not exist; these folders are ours, so the contexts are made (empty).
        for (const ctx of buildContexts(m[1])) mkdirSync(join(folder, ctx), { recursive: true });
        found.push({ file: join(folder, 'compose.yaml'), label: `${p}:${line}` });
      }
    }
  }
}

/** Local build contexts an example names (relative ones only). */
function buildContexts(text) {
  try {
    const top = parse(text, { logLevel: 'silent' });
    return Object.values(top?.services ?? {})
      .map((s) => (typeof s?.build === 'string' ? s.build : s?.build?.context))
      .filter((c) => typeof c === 'string' && !c.includes('://') && !c.includes('$') && !c.startsWith('/') && !/^(git@|github\.com)/.test(c));
  } catch {
    return [];
  }
}

/** Sources of the secrets the file's build sections use. */
function buildSecrets(file) {
  try {
    const top = parse(readFileSync(file, 'utf8'), { logLevel: 'silent' });
    return Object.values(top?.services ?? {}).flatMap((s) => (Array.isArray(s?.build?.secrets) ? s.build.secrets.map((r) => (typeof r === 'string' ? r : r?.source)) : []));
  } catch {
    return [];
  }
}

/** Compose v2's project name: `name:` in the file, else the folder's name, normalized. */
function projectName(file) {
  let name;
  try {
    const top = parse(readFileSync(file, 'utf8'), { logLevel: 'silent' });
    if (isObj(top) && typeof top.name === 'string' && !top.name.includes('$')) name = top.name;
  } catch {
    // The tools report a broken file themselves.
  }
  return (name ?? basename(dirname(file))).toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[_-]+/, '');
}

async function compare({ file, label }, env, tmp) {
  const dir = dirname(file);
  const name = projectName(file);
  const res = { label, file };
  const b = await run(process.execPath, [BATON, 'config', '--format', 'json', '-f', file, '--project-directory', dir], { cwd: dir, env });
  res.batonLoads = b.code === 0;
  if (!res.batonLoads) {
    const problems = b.err.split('\n').filter((l) => l.startsWith('error: ')).map((l) => l.slice(7));
    res.problems = problems.map((p) => ({ text: p, v2: V2_REFUSES.find(([re]) => re.test(p))?.[1] }));
    if (problems.length === 0) res.problems = [{ text: b.err.trim() || `exit ${b.code}` }];
  }
  // v1 does not know the top-level `name:` (it is given -p instead) nor keys newer than it: those are
  // taken out of a copy for v1, one by one as it names them, and left out of the comparison.
  // Read as YAML 1.1, as v1 does, so what is written back keeps 0440 octal and the like.
  const text = readFileSync(file, 'utf8');
  const doc = parseDocument(text, { logLevel: 'silent', version: '1.1' });
  // The yaml package's 1.1 float pattern takes a lone "." (a build context) for NaN; PyYAML does not.
  visit(doc, {
    Scalar(_, node) {
      if (Number.isNaN(node.value) && node.range && !/nan/i.test(text.slice(node.range[0], node.range[1]))) node.value = text.slice(node.range[0], node.range[1]).trim();
    },
  });
  const editable = doc.errors.length === 0 && isMap(doc.contents);
  const stripped = [];
  const v1Dir = mkdtempSync(join(tmp, 'v1-'));
  let v1File = file;
  if (editable && doc.has('name')) {
    doc.delete('name');
    v1File = join(v1Dir, basename(file));
  }
  let v;
  for (let tries = 0; tries < 12; tries++) {
    if (v1File !== file) writeFileSync(v1File, String(doc));
    v = await run('docker-compose', ['-f', v1File, '--project-directory', dir, '-p', name || 'default', 'config'], { cwd: dir, env });
    const unknown = v.code === 0 || !editable ? [] : v1UnknownKeys(v.err).filter((p) => !stripped.some((q) => q.join('.') === p.join('.')));
    if (unknown.length === 0) break;
    for (const path of unknown) {
      stripDocKey(doc, path);
      stripped.push(path);
    }
    v1File = join(v1Dir, basename(file));
  }
  res.v1Loads = v.code === 0;
  res.stripped = stripped.map((p) => p.join('.'));
  if (!res.v1Loads) res.v1Error = v.err.split('\n').filter((l) => l.trim() && !/variable is not set|Defaulting to a blank/.test(l)).slice(0, 2).join(' ');
  if (res.batonLoads && res.v1Loads) {
    const ours = dropExtensions(JSON.parse(b.out));
    for (const p of stripped) stripKey(ours, p);
    const theirs = dropExtensions(v1ToV2(parse(v.out, { version: '1.1' }), { name, dir, profiles: [], buildSecrets: buildSecrets(file) }));
    res.diffs = [];
    diff(ours, theirs, '', res.diffs);
  }
  return res;
}

async function main() {
  const args = process.argv.slice(2);
  const flags = new Set(args.filter((a) => a.startsWith('--')));
  const dirs = args.filter((a) => !a.startsWith('--'));
  if (dirs.length === 0 || flags.has('--help')) {
    process.stdout.write('usage: node scripts/compare-compose.mjs [--markdown] [--verbose] [--json] DIR...\n');
    process.exit(dirs.length === 0 ? 2 : 0);
  }
  if (!existsSync(join(REPO, 'dist', 'cli', 'main.js'))) {
    process.stderr.write('run `npm run build` first: this script runs bin/baton.js\n');
    process.exit(2);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'compare-compose-'));
  const files = [];
  for (const d of dirs) {
    if (!existsSync(d) || !statSync(d).isDirectory()) {
      process.stderr.write(`${d}: not a folder\n`);
      process.exit(2);
    }
    walk(resolve(d), files, flags.has('--markdown'), tmp);
  }
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  const results = [];
  // Two at a time: each file starts two processes.
  let next = 0;
  await Promise.all([0, 1].map(async () => {
    while (next < files.length) results[next] = await compare(files[next++], env, tmp).catch((e) => ({ label: files[next - 1].label, crash: String(e) }));
  }));
  rmSync(tmp, { recursive: true, force: true });

  const t = { files: results.length, loads: 0, refusedAsV2: 0, refusedBatonOnly: 0, compared: 0, same: 0, explained: 0, partly: 0, differ: 0, v1Cannot: 0 };
  for (const r of results) {
    const label = relative(process.cwd(), r.label.split(':')[0]) + (r.label.includes('.md:') ? `:${r.label.split(':').pop()}` : '');
    if (r.crash) {
      t.refusedBatonOnly++;
      process.stdout.write(`CRASH    ${label}: ${r.crash}\n`);
      continue;
    }
    if (!r.batonLoads) {
      const only = r.problems.filter((p) => !p.v2);
      if (only.length === 0) t.refusedAsV2++;
      else t.refusedBatonOnly++;
      process.stdout.write(`${only.length === 0 ? 'INVALID ' : 'REFUSED '} ${label}${r.v1Loads ? ' (v1 loads it)' : ''}\n`);
      for (const p of flags.has('--verbose') ? r.problems : r.problems.slice(0, 3)) process.stdout.write(`    ${p.v2 ? 'v2 too' : 'BATON ONLY'}: ${p.text.replace(/^[^ ]*compose\.ya?ml:\d+:\d+: /, '')}${p.v2 ? `  [${p.v2}]` : ''}\n`);
      continue;
    }
    t.loads++;
    if (!r.v1Loads) {
      t.v1Cannot++;
      process.stdout.write(`LOADS    ${label}  (not compared: v1 cannot load it: ${r.v1Error})\n`);
      continue;
    }
    t.compared++;
    if (r.stripped.length > 0) t.partly++;
    const explained = r.diffs.filter((d) => typeof d !== 'string');
    r.diffs = r.diffs.filter((d) => typeof d === 'string');
    if (r.diffs.length === 0) {
      t.same++;
      if (explained.length > 0) t.explained++;
      process.stdout.write(`SAME     ${label}${explained.length ? ` (${explained.length} explained)` : ''}${r.stripped.length ? ` (without ${r.stripped.join(', ')}: unknown to v1)` : ''}\n`);
      if (flags.has('--verbose')) for (const d of explained) process.stdout.write(`    explained: ${d.explained}\n`);
    } else {
      t.differ++;
      process.stdout.write(`DIFFERS  ${label}${r.stripped.length ? ` (without ${r.stripped.join(', ')}: unknown to v1)` : ''}\n`);
      for (const d of flags.has('--verbose') ? r.diffs : r.diffs.slice(0, 8)) process.stdout.write(`    ${d}\n`);
      if (!flags.has('--verbose') && r.diffs.length > 8) process.stdout.write(`    ... ${r.diffs.length - 8} more (--verbose)\n`);
    }
  }
  process.stdout.write(
    `\n${t.files} files: ${t.loads} load in baton (${t.same} identical to v2's normalization as derived from v1, ${t.explained} of them after explained v1 losses, ${t.partly} compared without keys v1 does not know, ${t.differ} differ, ${t.v1Cannot} v1 cannot load); ` +
      `${t.refusedAsV2} refused for reasons v2 refuses too; ${t.refusedBatonOnly} refused by baton alone\n`,
  );
  if (flags.has('--json')) process.stdout.write(JSON.stringify({ totals: t, results }, null, 2) + '\n');
  process.exit(t.refusedBatonOnly === 0 && t.differ === 0 ? 0 : 1);
}

await main();

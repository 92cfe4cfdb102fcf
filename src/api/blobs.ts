// Secrets and configs on the API side: resolving a deploy's references to
// stored versions, and the `baton secret|config create|ls|inspect|rm` routes.
// Values are sealed by the daemon's hooks; no route ever answers with one.
import type { ComposeProject, ServiceConfig } from '../spec/types.js';
import type { FileSources } from '../spec/sources.js';
import type { BlobRecord, ConfigRecord, SecretRecord, TaskFileRef } from '../model/types.js';
import { keys } from '../model/keys.js';
import { now } from '../model/time.js';
import type { Op, Store } from '../store/store.js';
import { ApiError, badRequest, notFound, type ApiProblem } from './errors.js';
import type { ApiHooks } from './types.js';

export type BlobKind = 'secret' | 'config';
/** What `baton secret|config ls|inspect` shows: never the value. */
export type BlobSummary = BlobRecord & { kind: BlobKind; usedBy: string[] };

const GLOBAL = '_';
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_BYTES = 500 * 1024;

/** The files a service's tasks get, each at the stored version of its value; new versions become put ops. */
export async function resolveFiles(
  store: Store,
  hooks: ApiHooks,
  compose: ComposeProject,
  cfg: ServiceConfig,
  sources: FileSources,
  /** Versions the project's services use now, by `${kind}:${source}`: kept when a redeploy sends no value (service update). */
  current: Map<string, string>,
  ops: Op[],
  problems: ApiProblem[],
): Promise<TaskFileRef[]> {
  const out: TaskFileRef[] = [];
  for (const [section, kind] of [['secrets', 'secret'], ['configs', 'config']] as const) {
    for (const [i, ref] of cfg[section].entries()) {
      const path = `services.${cfg.name}.${section}[${i}]`;
      const def = compose[section]?.[ref.source];
      if (!def) {
        problems.push({ service: cfg.name, path, message: `${kind} "${ref.source}" is not defined under the top-level ${section}:` });
        continue;
      }
      const target = ref.target ?? ref.source;
      if (target.split('/').includes('..')) {
        problems.push({ service: cfg.name, path: `${path}.target`, message: `target "${target}" may not contain ".."` });
        continue;
      }
      let key: string;
      if (def.external) {
        const found = await latest(store, kind, GLOBAL, def.name);
        if (!found) {
          problems.push({ service: cfg.name, path, message: `${kind} "${def.name}" is external but does not exist: create it with "baton ${kind} create ${def.name} FILE"` });
          continue;
        }
        key = keys.blob(GLOBAL, def.name, found.version);
      } else {
        const b64 = sources[section]?.[ref.source];
        const value = kind === 'config' && typeof def.content === 'string' ? Buffer.from(def.content) : b64 !== undefined ? Buffer.from(b64, 'base64') : undefined;
        const kept = current.get(`${kind}:${ref.source}`);
        if (!value && kept) {
          out.push(fileRef(kind, ref, kept, target));
          continue;
        }
        if (!value) {
          problems.push({ service: cfg.name, path: `${section}.${ref.source}`, message: `the value of ${kind} "${ref.source}" was not sent with the deploy` });
          continue;
        }
        const version = hooks.blobVersion(value);
        key = keys.blob(compose.name, def.name, version);
        if (!ops.some((o) => o.type === 'put' && o.kind === kind && o.key === key) && !(await store.get(kind, key))) {
          ops.push(blobPut(hooks, kind, { name: def.name, scope: compose.name, version, size: value.length, createdAt: now() }, key, value));
        }
      }
      out.push(fileRef(kind, ref, key, target));
    }
  }
  return out;
}

function fileRef(kind: BlobKind, ref: ServiceConfig['secrets'][number], key: string, target: string): TaskFileRef {
  return { kind, source: ref.source, key, target, ...(ref.uid !== undefined ? { uid: ref.uid } : {}), ...(ref.gid !== undefined ? { gid: ref.gid } : {}), ...(ref.mode !== undefined ? { mode: ref.mode } : {}) };
}

function blobPut(hooks: ApiHooks, kind: BlobKind, rec: BlobRecord, key: string, value: Buffer): Op {
  return kind === 'secret'
    ? { type: 'put', kind: 'secret', key, value: { ...rec, sealed: hooks.seal(value, key) }, expect: 0 }
    : { type: 'put', kind: 'config', key, value: { ...rec, data: value.toString('base64') }, expect: 0 };
}

async function versions(store: Store, kind: BlobKind, scope: string, name?: string): Promise<{ key: string; value: BlobRecord }[]> {
  const prefix = scope ? keys.blobPrefix(scope, name) : undefined;
  return kind === 'secret' ? store.list('secret', prefix) : store.list('config', prefix);
}

async function latest(store: Store, kind: BlobKind, scope: string, name: string): Promise<BlobRecord | undefined> {
  const all = (await versions(store, kind, scope, name)).map((v) => v.value);
  return all.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))[0];
}

/** Versions of a project's own secrets and configs that no service and no kept revision refers to any more. */
export async function unusedProjectBlobs(store: Store, project: string, keep: Set<string>): Promise<Op[]> {
  for (const r of await store.list('revision', keys.revisionPrefix(project))) for (const f of r.value.record.files ?? []) keep.add(f.key);
  const ops: Op[] = [];
  for (const kind of ['secret', 'config'] as const) {
    for (const v of await versions(store, kind, project)) if (!keep.has(v.key)) ops.push({ type: 'delete', kind, key: v.key });
  }
  return ops;
}

/** Every version of a project's own secrets and configs, for `down`. */
export async function projectBlobs(store: Store, project: string): Promise<Op[]> {
  const ops: Op[] = [];
  for (const kind of ['secret', 'config'] as const) for (const v of await versions(store, kind, project)) ops.push({ type: 'delete', kind, key: v.key });
  return ops;
}

async function users(store: Store): Promise<Map<string, string[]>> {
  const by = new Map<string, string[]>();
  for (const v of await store.list('service')) for (const f of v.value.files ?? []) by.set(f.key, [...(by.get(f.key) ?? []), `${v.value.project}/${v.value.name}`]);
  return by;
}

export async function createBlob(store: Store, hooks: ApiHooks, kind: BlobKind, body: { name?: unknown; data?: unknown }): Promise<BlobSummary> {
  if (typeof body.name !== 'string' || !NAME.test(body.name)) {
    throw badRequest(`name: expected letters, digits, "_", "-" or ".", starting with a letter or digit, at most 64 characters`);
  }
  if (typeof body.data !== 'string') throw badRequest('data: expected the value, base64');
  const value = Buffer.from(body.data, 'base64');
  if (value.length > MAX_BYTES) throw badRequest(`data: ${value.length} bytes; at most ${MAX_BYTES} are allowed`);
  if ((await versions(store, kind, GLOBAL, body.name)).length > 0) {
    throw new ApiError(409, 'exists', `${kind} "${body.name}" already exists; ${kind}s cannot be changed: create one under a new name and update the services that use it`);
  }
  const version = hooks.blobVersion(value);
  const key = keys.blob(GLOBAL, body.name, version);
  const rec: BlobRecord = { name: body.name, scope: GLOBAL, version, size: value.length, createdAt: now() };
  await store.commit([blobPut(hooks, kind, rec, key, value)]);
  await store.appendEvents([{ type: `${kind}.create`, message: `${kind} "${body.name}" created (${value.length} bytes)` }]);
  return { ...rec, kind, usedBy: [] };
}

export async function listBlobs(store: Store, kind: BlobKind): Promise<BlobSummary[]> {
  const used = await users(store);
  return (await versions(store, kind, '')).map((v) => summary(kind, v.key, v.value, used));
}

export async function inspectBlob(store: Store, kind: BlobKind, name: string): Promise<BlobSummary[]> {
  const used = await users(store);
  const found = (await versions(store, kind, '')).filter((v) => v.value.name === name);
  if (found.length === 0) throw notFound(`${kind} "${name}"`);
  return found.map((v) => summary(kind, v.key, v.value, used));
}

export async function removeBlob(store: Store, kind: BlobKind, name: string): Promise<{ removed: string }> {
  const found = await versions(store, kind, GLOBAL, name);
  if (found.length === 0) throw notFound(`${kind} "${name}"`);
  const used = await users(store);
  const by = found.flatMap((v) => used.get(v.key) ?? []);
  if (by.length > 0) throw new ApiError(409, 'in_use', `${kind} "${name}" is in use by ${by.join(', ')}; remove it from those services first`);
  await store.commit(found.map((v) => ({ type: 'delete', kind, key: v.key })));
  await store.appendEvents([{ type: `${kind}.remove`, message: `${kind} "${name}" removed` }]);
  return { removed: name };
}

function summary(kind: BlobKind, key: string, v: BlobRecord, used: Map<string, string[]>): BlobSummary {
  // Only the record's public fields: the sealed value (or config data) stays in the store.
  return { kind, name: v.name, scope: v.scope, version: v.version, size: v.size, createdAt: v.createdAt, usedBy: used.get(key) ?? [] };
}

export type { SecretRecord, ConfigRecord };

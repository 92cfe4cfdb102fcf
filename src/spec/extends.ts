// `extends`: a service built on another, from the same file or another one.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Tagged, type Path, type Raw, type Source } from './yaml-source.js';
import { isRawObj, mergeValues, type RawObj } from './merge.js';
import { rebaseService } from './rebase.js';

export interface ExtendsContext {
  /** Reads, interpolates and validates a file (cached by the caller). */
  read(file: string): Source;
  fail(file: string, src: Source | undefined, path: Path, message: string): void;
}

interface Scope {
  file: string;
  dir: string;
  src: Source | undefined;
  services: RawObj;
  done: Map<string, RawObj>;
}

const scopes = new WeakMap<Source, Scope>();

function unwrap(v: Raw | undefined): Raw | undefined {
  return v instanceof Tagged ? (v.tag === 'reset' ? undefined : v.value) : v;
}

function resolveIn(scope: Scope, name: string, chain: string[], ctx: ExtendsContext): RawObj | undefined {
  const svc = scope.services[name];
  if (!isRawObj(svc)) return undefined;
  const ext = unwrap(svc.extends);
  if (ext === undefined || ext === null) return svc;
  const cached = scope.done.get(name);
  if (cached) return cached;
  const at: Path = ['services', name, 'extends'];
  const target = typeof ext === 'string' ? { service: ext } : isRawObj(ext) ? { service: ext.service, file: ext.file } : undefined;
  const { extends: _drop, ...own } = svc;
  if (!target || typeof target.service !== 'string' || (target.file !== undefined && typeof target.file !== 'string')) {
    ctx.fail(scope.file, scope.src, at, 'expected a service name or {service: NAME, file: PATH}');
    return own;
  }
  let baseScope = scope;
  if (target.file !== undefined) {
    const file = resolve(scope.dir, target.file);
    const src = ctx.read(file);
    if (!isRawObj(src.value)) {
      ctx.fail(scope.file, scope.src, at, existsSync(file) ? `cannot extend from ${file}: it has errors (reported with it)` : `extended file ${file} not found`);
      return own;
    }
    let s = scopes.get(src);
    if (!s) {
      const services = isRawObj(src.value.services) ? src.value.services : {};
      s = { file, dir: dirname(file), src, services, done: new Map() };
      scopes.set(src, s);
    }
    baseScope = s;
  }
  const key = `${baseScope.file}#${target.service}`;
  if (chain.includes(key)) {
    ctx.fail(scope.file, scope.src, at, `extends cycle: ${[...chain, key].map((k) => k.slice(k.indexOf('#') + 1)).join(' -> ')}`);
    return own;
  }
  if (!isRawObj(baseScope.services[target.service])) {
    ctx.fail(scope.file, scope.src, at, `extends service "${target.service}", which is not defined${target.file ? ` in ${target.file}` : ''}`);
    return own;
  }
  let base = resolveIn(baseScope, target.service, [...chain, key], ctx) ?? {};
  if (baseScope.dir !== scope.dir) base = rebaseService(base, baseScope.dir);
  const merged = mergeValues(base, own, `services.${name}`) as RawObj;
  scope.done.set(name, merged);
  return merged;
}

/** Resolves every `extends` in the services of a (merged) file. */
export function applyExtends(top: RawObj, file: string, src: Source | undefined, ctx: ExtendsContext): RawObj {
  if (!isRawObj(top.services)) return top;
  const scope: Scope = { file, dir: dirname(file), src, services: top.services, done: new Map() };
  const services: RawObj = {};
  for (const name of Object.keys(top.services)) services[name] = resolveIn(scope, name, [`${file}#${name}`], ctx) ?? top.services[name];
  return { ...top, services };
}

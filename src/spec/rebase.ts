// Relative paths in a file brought in by `extends: {file}` or `include` point
// from that file's folder, not the project's: make them absolute first.
import { isAbsolute, resolve } from 'node:path';
import { Tagged, type Raw } from './yaml-source.js';
import { isRawObj, type RawObj } from './merge.js';

function isRemote(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('git@') || s.startsWith('github.com/');
}

function abs(s: Raw, dir: string): Raw {
  return typeof s === 'string' && s !== '' && !isAbsolute(s) && !isRemote(s) && !s.startsWith('~') ? resolve(dir, s) : s;
}

function each(v: Raw, f: (x: Raw) => Raw): Raw {
  if (v instanceof Tagged) return new Tagged(v.tag, each(v.value, f));
  return Array.isArray(v) ? v.map(f) : f(v);
}

export function rebaseService(svc: RawObj, dir: string): RawObj {
  const out: RawObj = { ...svc };
  if (typeof out.build === 'string') out.build = abs(out.build, dir);
  else if (isRawObj(out.build) && typeof out.build.context === 'string') out.build = { ...out.build, context: abs(out.build.context, dir) };
  else if (isRawObj(out.build) && out.build.context === undefined) out.build = { ...out.build, context: dir };
  for (const k of ['env_file', 'label_file']) {
    if (out[k] !== undefined) out[k] = each(out[k], (e) => (isRawObj(e) ? { ...e, path: abs(e.path, dir) } : abs(e, dir)));
  }
  if (out.volumes !== undefined) {
    out.volumes = each(out.volumes, (e) => {
      if (typeof e === 'string') {
        const i = e.indexOf(':');
        return i > 0 && e.startsWith('.') ? String(abs(e.slice(0, i), dir)) + e.slice(i) : e;
      }
      if (isRawObj(e) && e.type === 'bind' && typeof e.source === 'string' && e.source.startsWith('.')) return { ...e, source: abs(e.source, dir) };
      return e;
    });
  }
  if (isRawObj(out.extends) && typeof out.extends.file === 'string') out.extends = { ...out.extends, file: abs(out.extends.file, dir) };
  return out;
}

/** Rebases every service and the `file:` of secrets and configs of a whole file. */
export function rebaseTop(top: RawObj, dir: string): RawObj {
  const out: RawObj = { ...top };
  if (isRawObj(top.services)) out.services = Object.fromEntries(Object.entries(top.services).map(([k, s]) => [k, isRawObj(s) ? rebaseService(s, dir) : s]));
  for (const sec of ['secrets', 'configs']) {
    const m = top[sec];
    if (isRawObj(m)) out[sec] = Object.fromEntries(Object.entries(m).map(([k, s]) => [k, isRawObj(s) && typeof s.file === 'string' ? { ...s, file: abs(s.file, dir) } : s]));
  }
  return out;
}

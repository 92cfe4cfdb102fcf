// Merging Compose files (-f a -f b, overrides, extends) with Compose's rules:
// mappings merge, sequences append (some keyed by target), command and
// entrypoint replace, and `!reset` / `!override` tags win over everything.
import { Tagged, isObj, type Json, type Raw } from './yaml-source.js';

type RawObj = { [k: string]: Raw };

const REPLACE = /^services\.[^.]+\.(command|entrypoint|healthcheck\.test)$/;
// Keys written as a list of KEY=VALUE or as a mapping; merged key by key.
const LIST_OR_DICT = /^services\.[^.]+\.(environment|labels|annotations|sysctls|build\.args|build\.labels|deploy\.labels)$/;
// Sequences whose entries are keyed: an override replaces the entry with the same key.
const KEYED: [RegExp, (e: Raw) => string | undefined][] = [
  [/^services\.[^.]+\.volumes$/, volumeTarget],
  [/^services\.[^.]+\.(secrets|configs)$/, (e) => (typeof e === 'string' ? e : isObj(e) && typeof e.source === 'string' ? e.source : undefined)],
];

function isRawObj(v: Raw | undefined): v is RawObj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Tagged);
}

function volumeTarget(e: Raw): string | undefined {
  if (typeof e === 'string') {
    const parts = e.split(':');
    // Windows drive letters ("C:\x:/y") are rare enough to ignore here; the key only matters for merging.
    return parts.length === 1 ? parts[0] : parts[1];
  }
  return isObj(e) && typeof e.target === 'string' ? e.target : undefined;
}

function listToDict(v: Raw): Raw {
  if (!Array.isArray(v)) return v;
  const out: RawObj = {};
  for (const e of v) {
    if (typeof e !== 'string') return v;
    const i = e.indexOf('=');
    out[i < 0 ? e : e.slice(0, i)] = i < 0 ? null : e.slice(i + 1);
  }
  return out;
}

/** depends_on and service networks have a list form that stands for a mapping. */
function namesToDict(v: Raw, key: string): Raw {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return v;
  return Object.fromEntries((v as string[]).map((n) => [n, key === 'depends_on' ? { condition: 'service_started' } : null]));
}

function same(a: Raw, b: Raw): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Merges `over` onto `base` at key path `path` (mapping keys only, joined by ".").
 * Tags in `over` are kept on the result so a later extends still sees them; stripTags drops them.
 */
export function mergeValues(base: Raw | undefined, over: Raw, path: string): Raw {
  if (over instanceof Tagged) return over;
  if (base instanceof Tagged) base = base.tag === 'reset' ? undefined : base.value;
  if (base === undefined) return over;
  if (REPLACE.test(path)) return over;
  const key = path.slice(path.lastIndexOf('.') + 1);
  if (LIST_OR_DICT.test(path)) {
    base = listToDict(base);
    over = listToDict(over);
  } else if (/^services\.[^.]+\.(depends_on|networks|models)$/.test(path)) {
    base = namesToDict(base, key);
    over = namesToDict(over, key);
  } else if (/^services\.[^.]+\.build$/.test(path)) {
    if (typeof base === 'string') base = { context: base };
    if (typeof over === 'string') over = { context: over };
  }
  if (Array.isArray(base) && Array.isArray(over)) {
    const keyed = KEYED.find(([re]) => re.test(path));
    if (keyed) {
      const out = [...base];
      for (const e of over) {
        const k = keyed[1](e);
        const at = k === undefined ? -1 : out.findIndex((b) => keyed[1](b) === k);
        if (at >= 0) out[at] = e;
        else if (!out.some((b) => same(b, e))) out.push(e);
      }
      return out;
    }
    return [...base, ...over.filter((x) => !base.some((b: Raw) => same(b, x)))];
  }
  if (isRawObj(base) && isRawObj(over)) {
    const out: RawObj = { ...base };
    // defineProperty, so a key named "__proto__" stays a plain key.
    for (const [k, v] of Object.entries(over)) Object.defineProperty(out, k, { value: mergeValues(Object.hasOwn(out, k) ? out[k] : undefined, v, path ? `${path}.${k}` : k), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return over;
}

function hasTag(v: Raw): boolean {
  if (v instanceof Tagged) return true;
  if (Array.isArray(v)) return v.some(hasTag);
  if (isRawObj(v)) {
    for (const k in v) if (hasTag(v[k])) return true;
  }
  return false;
}

function strip(v: Raw): Json {
  if (v instanceof Tagged) return v.tag === 'reset' ? null : strip(v.value);
  if (Array.isArray(v)) return v.filter((x) => !(x instanceof Tagged && x.tag === 'reset')).map(strip);
  if (isRawObj(v)) {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => !(x instanceof Tagged && x.tag === 'reset')).map(([k, x]) => [k, strip(x)]));
  }
  return v as Json;
}

/** Applies the tags left after merging: `!reset` removes, `!override` keeps its value as is. A tree without tags is returned as it is. */
export function stripTags(v: Raw): Json {
  return hasTag(v) ? strip(v) : (v as Json);
}

export { isRawObj, type RawObj };

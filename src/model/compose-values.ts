// Compose values as the Docker engine takes them (byte sizes, ulimits, extra hosts, string lists), shared by
// containers and builds; a value that does not fit is refused naming its service and key.

/** One ulimit, as the engine takes it. */
export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

/** A Compose value the engine cannot take (for a container or a build), named by its service and key. */
export class ComposeValueError extends Error {
  constructor(readonly service: string, readonly key: string, readonly detail: string) {
    super(`${key}: ${detail}`);
    this.name = 'ComposeValueError';
  }
}

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4 };

/** Compose byte sizes: a number of bytes, or "512m", "1.5g", "64kb". */
export function parseBytes(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.floor(v);
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  return Math.floor(Number(m[1]) * unit);
}

export function strings(svc: string, key: string, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => {
    if (typeof x !== 'string' && typeof x !== 'number') throw new ComposeValueError(svc, key, `expected a list of strings, got ${JSON.stringify(x)}`);
    return String(x);
  });
}

export function stringMap(svc: string, key: string, v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (Array.isArray(v)) {
    return Object.fromEntries(
      v.map((e) => {
        const s = String(e);
        const i = s.indexOf('=');
        if (i < 0) throw new ComposeValueError(svc, key, `expected KEY=VALUE, got "${s}"`);
        return [s.slice(0, i), s.slice(i + 1)];
      }),
    );
  }
  if (!isObj(v)) throw new ComposeValueError(svc, key, 'expected a mapping or a list of KEY=VALUE');
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
}

export function ulimits(svc: string, v: unknown, key = 'ulimits'): Ulimit[] {
  if (v === undefined || v === null) return [];
  if (!isObj(v)) throw new ComposeValueError(svc, key, 'expected a mapping of name to a number or {soft, hard}');
  return Object.entries(v).map(([name, x]) => {
    if (typeof x === 'number') return { name, soft: x, hard: x };
    if (isObj(x) && typeof x.soft === 'number' && typeof x.hard === 'number') return { name, soft: x.soft, hard: x.hard };
    throw new ComposeValueError(svc, `${key}.${name}`, 'expected a number or {soft, hard}');
  });
}

export function extraHosts(svc: string, v: unknown, key = 'extra_hosts'): string[] {
  if (isObj(v)) return Object.entries(v).flatMap(([h, ip]) => (Array.isArray(ip) ? ip : [ip]).map((x) => `${h}:${String(x)}`));
  // Compose allows HOST=IP as well as the engine's HOST:IP.
  return strings(svc, key, v).map((e) => (/^[^:=]+=/.test(e) ? e.replace('=', ':') : e));
}

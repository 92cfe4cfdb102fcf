// Compose variable interpolation, and the type casts Compose applies to the
// values interpolation turned into text.
import { Tagged, type Json, type Path, type Raw } from './yaml-source.js';

export type Env = Record<string, string | undefined>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Compose interpolation: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+a}, ${VAR+a}, $$. */
export function interpolate(text: string, env: Env, depth = 0): string {
  if (!text.includes('$')) return text;
  // Defaults nest (${A:-${B:-c}}); a bound keeps a hostile value from exhausting the stack.
  if (depth > 32) throw new Error(`invalid interpolation: defaults nested more than 32 levels deep`);
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
      while (j < text.length) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}' && --depth === 0) break;
        j++;
      }
      if (depth > 0) throw new Error(`invalid interpolation "${text}": "\${" is never closed (write $$ for a literal $)`);
      out += expand(text.slice(i + 2, j), env, depth);
      i = j + 1;
    } else {
      const m = NAME.exec(text.slice(i + 1, i + 200));
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

function expand(body: string, env: Env, depth: number): string {
  // Read by hand, not with one regex: a long default overflows the regex engine's stack.
  const m = NAME.exec(body.slice(0, 256));
  const name = m?.[0] ?? '';
  const rest = body.slice(name.length);
  const op = rest.startsWith(':') ? rest.slice(0, 2) : rest.slice(0, 1);
  if (!name || (rest !== '' && !['-', '?', '+', ':-', ':?', ':+'].includes(op))) {
    const shown = body.length > 60 ? body.slice(0, 60) + '…' : body;
    throw new Error(`invalid interpolation "\${${shown}}": expected \${NAME}, \${NAME:-default}, \${NAME:?error} or \${NAME:+alternative} (write $$ for a literal $)`);
  }
  const arg = rest.slice(op.length);
  const v = env[name];
  const unset = v === undefined || (op?.startsWith(':') === true && v === '');
  switch (op) {
    case ':-':
    case '-':
      return unset ? interpolate(arg, env, depth + 1) : v!;
    case ':?':
    case '?':
      if (unset) throw new Error(`required variable ${name} is missing a value${arg ? `: ${interpolate(arg, env, depth + 1)}` : ''}`);
      return v!;
    case ':+':
    case '+':
      return unset ? '' : interpolate(arg, env, depth + 1);
    default:
      return v ?? '';
  }
}

type Cast = 'int' | 'float' | 'bool' | 'string';

// Where Compose turns interpolated text back into numbers and booleans
// (so `replicas: ${N}` validates as an integer). `*` is one key or index.
const CASTS: [RegExp, Cast][] = ([
  ['services.*.deploy.replicas', 'int'],
  ['services.*.deploy.update_config.parallelism', 'int'],
  ['services.*.deploy.rollback_config.parallelism', 'int'],
  ['services.*.deploy.update_config.max_failure_ratio', 'float'],
  ['services.*.deploy.rollback_config.max_failure_ratio', 'float'],
  ['services.*.deploy.restart_policy.max_attempts', 'int'],
  ['services.*.deploy.placement.max_replicas_per_node', 'int'],
  ['services.*.healthcheck.retries', 'int'],
  ['services.*.healthcheck.disable', 'bool'],
  ['services.*.ports.*.target', 'int'],
  ['services.*.ports.*.published', 'string'],
  ['services.*.scale', 'int'],
  ['services.*.cpus', 'float'],
  ['services.*.cpu_count', 'int'],
  ['services.*.cpu_percent', 'float'],
  ['services.*.cpu_period', 'int'],
  ['services.*.cpu_quota', 'int'],
  ['services.*.cpu_shares', 'int'],
  ['services.*.cpu_rt_period', 'int'],
  ['services.*.cpu_rt_runtime', 'int'],
  ['services.*.oom_score_adj', 'int'],
  ['services.*.pids_limit', 'int'],
  ['services.*.init', 'bool'],
  ['services.*.privileged', 'bool'],
  ['services.*.read_only', 'bool'],
  ['services.*.stdin_open', 'bool'],
  ['services.*.tty', 'bool'],
  ['services.*.oom_kill_disable', 'bool'],
  ['services.*.secrets.*.mode', 'int'],
  ['services.*.configs.*.mode', 'int'],
  ['services.*.ulimits.*', 'int'],
  ['services.*.ulimits.*.soft', 'int'],
  ['services.*.ulimits.*.hard', 'int'],
  ['services.*.volumes.*.read_only', 'bool'],
  ['services.*.volumes.*.volume.nocopy', 'bool'],
  ['networks.*.external', 'bool'],
  ['networks.*.internal', 'bool'],
  ['networks.*.attachable', 'bool'],
  ['networks.*.enable_ipv6', 'bool'],
  ['volumes.*.external', 'bool'],
  ['secrets.*.external', 'bool'],
  ['configs.*.external', 'bool'],
] as [string, Cast][]).map(([p, c]) => [new RegExp(`^${p.split('.').map((s) => (s === '*' ? '[^.]+' : s.replace(/[.$]/g, '\\$&'))).join('\\.')}$`), c]);

function cast(v: string, path: Path): Json {
  const key = path.map(String).join('.');
  for (const [re, c] of CASTS) {
    if (!re.test(key)) continue;
    if (c === 'int' && /^-?\d+$/.test(v.trim())) return Number(v);
    if (c === 'float' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
    if (c === 'bool' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
    return v;
  }
  return v;
}

/**
 * Interpolates every string value (never keys) of a file's tree. A value that
 * held a variable is cast back where Compose expects a number or a boolean.
 */
export function interpolateTree(v: Raw, env: Env, path: Path, fail: (path: Path, message: string) => void): Raw {
  // One path array, pushed and popped: a copy is made only for a value that holds a variable.
  const walk = (x: Raw): Raw => {
    if (typeof x === 'string') {
      if (!x.includes('$')) return x;
      try {
        return cast(interpolate(x, env), [...path]);
      } catch (err) {
        fail([...path], (err as Error).message);
        return x;
      }
    }
    if (x instanceof Tagged) return new Tagged(x.tag, walk(x.value));
    if (Array.isArray(x)) {
      const out: Raw[] = new Array(x.length);
      for (let i = 0; i < x.length; i++) {
        path.push(i);
        out[i] = walk(x[i]);
        path.pop();
      }
      return out;
    }
    if (x !== null && typeof x === 'object') {
      const out: { [k: string]: Raw } = {};
      for (const [k, y] of Object.entries(x)) {
        path.push(k);
        const r = walk(y);
        path.pop();
        if (k === '__proto__') Object.defineProperty(out, k, { value: r, enumerable: true, writable: true, configurable: true });
        else out[k] = r;
      }
      return out;
    }
    return x;
  };
  return walk(v);
}

// `include`: other Compose projects brought in whole, each with its own
// folder and .env, their resources added to the including file.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readDotenv } from './dotenv.js';
import type { Env } from './interpolate.js';
import { isRawObj, mergeValues, type RawObj } from './merge.js';
import { rebaseTop } from './rebase.js';
import { applyExtends, type ExtendsContext } from './extends.js';
import type { Path, Raw, Source } from './yaml-source.js';

export interface IncludeContext extends ExtendsContext {
  /** Reads one file with the given environment, its own includes applied; `chain` guards against cycles. */
  readWith(file: string, env: Env, chain: string[]): Source;
  /** The process environment, which wins over any .env. */
  processEnv: Env;
}

const SECTIONS = ['services', 'networks', 'volumes', 'secrets', 'configs'] as const;

function list(v: Raw | undefined): string[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

/** Replaces `include:` in a file's tree by the resources of the included projects. */
export function applyInclude(top: RawObj, file: string, src: Source, chain: string[], ctx: IncludeContext): RawObj {
  const entries = top.include;
  if (entries === undefined) return top;
  const { include: _i, ...out } = top;
  if (!Array.isArray(entries)) return out;
  const dir = dirname(file);
  entries.forEach((entry, i) => {
    const at: Path = ['include', i];
    const e = isRawObj(entry) ? entry : { path: entry };
    const paths = list(e.path).map((p) => resolve(dir, p));
    if (paths.length === 0) return ctx.fail(file, src, at, 'expected a path to a Compose file');
    const projectDir = typeof e.project_directory === 'string' ? resolve(dir, e.project_directory) : dirname(paths[0]);
    const envFiles = e.env_file !== undefined ? list(e.env_file).map((p) => resolve(dir, p)) : [join(projectDir, '.env')];
    const dotenv: Env = {};
    for (const f of envFiles) {
      if (!existsSync(f)) {
        if (e.env_file !== undefined) ctx.fail(file, src, [...at, 'env_file'], `env file ${f} not found`);
        continue;
      }
      const r = readDotenv(readFileSync(f, 'utf8'), (k) => ctx.processEnv[k] ?? dotenv[k]);
      for (const p of r.problems) ctx.fail(f, undefined, [], `line ${p.line}: ${p.message}`);
      Object.assign(dotenv, r.vars);
    }
    const env: Env = { ...dotenv, ...ctx.processEnv };
    let merged: Raw = {};
    for (const p of paths) {
      if (chain.includes(p)) return ctx.fail(file, src, at, `include cycle: ${[...chain, p].join(' -> ')}`);
      if (!existsSync(p)) return ctx.fail(file, src, at, `included file ${p} not found`);
      const s = ctx.readWith(p, env, [...chain, p]);
      if (!isRawObj(s.value)) return;
      merged = mergeValues(merged, s.value, '');
    }
    let inc = applyExtends(merged as RawObj, paths[0], undefined, ctx);
    inc = rebaseTop(inc, projectDir);
    for (const sec of SECTIONS) {
      const from = inc[sec];
      if (!isRawObj(from)) continue;
      const into = isRawObj(out[sec]) ? { ...(out[sec] as RawObj) } : {};
      for (const [k, v] of Object.entries(from)) {
        if (k in into && JSON.stringify(into[k]) !== JSON.stringify(v)) {
          ctx.fail(file, src, [sec, k], `${sec.slice(0, -1)} "${k}" is also defined by the included file ${paths[0]}`);
          continue;
        }
        into[k] = v;
      }
      out[sec] = into;
    }
  });
  return out;
}

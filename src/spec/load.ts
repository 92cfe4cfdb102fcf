// The loading pipeline: find the files, read .env, then for each file parse,
// interpolate, validate and apply `include`; merge the files, resolve
// `extends`, apply profiles, normalize and check. Every problem is collected
// with its position and thrown together as one SpecError.
import { existsSync, readFileSync } from 'node:fs';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { SpecError } from './errors.js';
import { discover, normalizeProjectName } from './discover.js';
import { readDotenv } from './dotenv.js';
import { applyExtends } from './extends.js';
import { applyInclude, type IncludeContext } from './include.js';
import { interpolateTree, type Env } from './interpolate.js';
import { mergeValues, stripTags, type RawObj } from './merge.js';
import { hostPath, normalizeService } from './normalize.js';
import { checkProject } from './checks.js';
import { readFileSources } from './sources.js';
import { rememberLocator } from './locate.js';
import { validateSchema } from './schema.js';
import { isObj, pathText, problemAt, readSource, type Obj, type Path, type Raw, type Source } from './yaml-source.js';
import type { ComposeProject, LoadOptions, ServiceConfig, SpecProblem } from './types.js';

/** The source among those loaded that defines the deepest part of path (later files win ties). */
function sourceFor(sources: Source[], path: Path): Source | undefined {
  let best: Source | undefined;
  let depth = -1;
  for (const s of sources) {
    for (let n = path.length; n > depth; n--) {
      if (s.offsets.has(pathText(path.slice(0, n)))) {
        if (n >= depth) {
          best = s;
          depth = n;
        }
        break;
      }
    }
  }
  return best ?? sources[sources.length - 1];
}

/** Throws every problem found so far, in file and line order. */
function stopIfAny(problems: SpecProblem[]): void {
  if (problems.length === 0) return;
  const files = [...new Set(problems.map((p) => p.file))];
  const sorted = problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => files.indexOf(a.p.file) - files.indexOf(b.p.file) || (a.p.line ?? 0) - (b.p.line ?? 0) || (a.p.col ?? 0) - (b.p.col ?? 0) || a.i - b.i)
    .map((x) => x.p);
  throw new SpecError(sorted);
}

export async function loadProject(opts: LoadOptions = {}): Promise<ComposeProject> {
  const cwd = opts.cwd ?? process.cwd();
  const processEnv = opts.env ?? process.env;
  const problems: SpecProblem[] = [];
  const fromEnv = processEnv.COMPOSE_FILE?.split(delimiter).filter(Boolean);
  const given = opts.files && opts.files.length > 0 ? opts.files : fromEnv;
  const files = given && given.length > 0 ? given.map((f) => resolve(cwd, f)) : discover(resolve(cwd, opts.projectDir ?? '.'));
  const workingDir = resolve(cwd, opts.projectDir ?? dirname(files[0]));

  // Interpolation sees the process environment over the .env file(s), later --env-file over earlier.
  const envFiles = opts.envFiles && opts.envFiles.length > 0 ? opts.envFiles.map((f) => resolve(cwd, f)) : [join(workingDir, '.env')];
  const dotenv: Record<string, string> = {};
  for (const f of envFiles) {
    if (!existsSync(f)) {
      if (opts.envFiles?.length) problems.push({ file: f, path: '', message: 'env file not found' });
      continue;
    }
    const r = readDotenv(readFileSync(f, 'utf8'), (k) => processEnv[k] ?? dotenv[k]);
    for (const p of r.problems) problems.push({ file: f, line: p.line, col: 1, path: '', message: p.message });
    Object.assign(dotenv, r.vars);
  }
  const env: Env = { ...dotenv, ...processEnv };

  const sources: Source[] = [];
  const fail = (file: string, src: Source | undefined, path: Path, message: string): void => {
    problems.push(src ? problemAt(src, file, path, message) : problemAt(sourceFor(sources, path), file, path, message));
  };
  const readWith = (file: string, fileEnv: Env, chain: string[]): Source => {
    const before = problems.length;
    const src = readSource(file, problems);
    if (!isObj(src.value)) return src;
    let value: Raw = src.value;
    if (!opts.noInterpolate) value = interpolateTree(value, fileEnv, [], (path, message) => problems.push(problemAt(src, file, path, message)));
    // Compose validates each file after interpolation, before merging.
    if (problems.length === before && !opts.noInterpolate) problems.push(...validateSchema(stripTags(value), src, file));
    if (problems.length > before) {
      src.value = null;
      return src;
    }
    src.value = applyInclude(value as RawObj, file, src, chain, ctx);
    return src;
  };
  const extendsCache = new Map<string, Source>();
  const ctx: IncludeContext = {
    processEnv: env,
    readWith,
    read: (file) => {
      let s = extendsCache.get(file);
      if (!s) {
        // A missing file is reported at the extends key that names it.
        s = existsSync(file) ? readWith(file, env, [file]) : { ...readSource(file, [], ''), value: null };
        extendsCache.set(file, s);
      }
      return s;
    },
    fail,
  };

  let merged: Raw = {};
  for (const file of files) {
    const src = readWith(file, env, [file]);
    sources.push(src);
    if (src.value !== null) merged = mergeValues(merged, src.value, '');
  }
  stopIfAny(problems);
  merged = applyExtends(merged as RawObj, files[0], undefined, ctx);
  stopIfAny(problems);
  const top = stripTags(merged) as Obj;

  const where = (path: Path, message: string): void => fail(files[0], undefined, path, message);
  const rawName = opts.projectName ?? env.COMPOSE_PROJECT_NAME ?? (typeof top.name === 'string' && top.name ? top.name : undefined) ?? basename(workingDir);
  const name = normalizeProjectName(rawName);
  if (!name) problems.push({ file: files[0], path: 'name', message: `project name "${rawName}" has no letter or digit to keep` });
  const active = new Set([...(opts.profiles ?? []), ...(env.COMPOSE_PROFILES ?? '').split(',').map((s) => s.trim()).filter(Boolean)]);
  const services: Record<string, ServiceConfig> = {};
  for (const [sname, raw] of Object.entries(isObj(top.services) ? top.services : {})) {
    if (!isObj(raw)) continue;
    const svc = normalizeService(sname, raw, workingDir, env, where);
    if (svc.profiles.length > 0 && !svc.profiles.some((p) => active.has(p) || active.has('*'))) continue;
    services[sname] = svc;
  }
  const named = (section: string): Record<string, { name: string; [k: string]: unknown }> =>
    Object.fromEntries(Object.entries(isObj(top[section]) ? (top[section] as Obj) : {}).map(([k, v]) => {
      const o = isObj(v) ? v : {};
      const ext = o.external;
      const extName = isObj(ext) && typeof ext.name === 'string' ? ext.name : undefined;
      const out: { name: string; [k: string]: unknown } = { ...o, name: typeof o.name === 'string' ? o.name : extName ?? (ext ? k : `${name}_${k}`) };
      // The old `external: {name: X}` is `name: X, external: true` to Compose.
      if (isObj(ext)) out.external = true;
      if ((section === 'secrets' || section === 'configs') && typeof o.file === 'string') out.file = hostPath(o.file, workingDir);
      return [k, out];
    }));
  const networks = named('networks');
  if (Object.values(services).some((s) => 'default' in s.networks) && !networks.default) networks.default = { name: `${name}_default` };
  const project: ComposeProject = {
    ...Object.fromEntries(Object.entries(top).filter(([k]) => k.startsWith('x-'))),
    name,
    workingDir,
    files,
    services,
    networks: networks as ComposeProject['networks'],
    volumes: named('volumes') as ComposeProject['volumes'],
    secrets: named('secrets') as ComposeProject['secrets'],
    configs: named('configs') as ComposeProject['configs'],
    ...(isObj(top.models) ? { models: Object.fromEntries(Object.entries(top.models).map(([k, v]) => [k, isObj(v) ? v : {}])) } : {}),
  };
  checkProject(project, where);
  stopIfAny(problems);
  rememberLocator(project, (path) => {
    const { file, line, col } = problemAt(sourceFor(sources, path), files[0], path, '');
    return { file, line, col };
  });
  // Read now, where a problem has a position; reported only when the values are asked for (up), not by ps or config.
  const sourceProblems: SpecProblem[] = [];
  readFileSources(project, env, (path, message) => sourceProblems.push(problemAt(sourceFor(sources, path), files[0], path, message)), () => stopIfAny(sourceProblems));
  return project;
}

import { after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadProject, SpecError, type ComposeProject, type LoadOptions, type SpecProblem } from '../../src/spec/index.js';

const root = mkdtempSync(join(tmpdir(), 'baton-spec-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fresh folder holding the given files (paths may have folders). */
export function project(files: Record<string, string>, folder = `proj${n++}`): string {
  const dir = join(root, folder);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

export const PROC = 'x-baton: {driver: process}\n';

export function load(dir: string, opts: LoadOptions = {}): Promise<ComposeProject> {
  return loadProject({ cwd: dir, env: {}, ...opts });
}

export async function problems(dir: string, opts: LoadOptions = {}): Promise<SpecProblem[]> {
  try {
    await load(dir, opts);
  } catch (err) {
    if (err instanceof SpecError) return err.problems;
    throw err;
  }
  assert.fail('expected the project to be refused');
}

/** The one problem at a key path; fails listing all problems when there is none. */
export function at(ps: SpecProblem[], path: string): SpecProblem {
  const p = ps.find((x) => x.path === path);
  assert.ok(p, `no problem at ${path}; got:\n${ps.map((x) => `${x.line}:${x.col} ${x.path}: ${x.message}`).join('\n')}`);
  return p;
}

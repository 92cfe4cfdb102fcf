import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadProject, SpecError } from '../../src/spec/index.js';
import { project, PROC } from './helpers.js';

// Seeded, so a failure can be replayed; bounded in cases and in time.
function rng(seed: number): (k: number) => number {
  let s = seed;
  return (k) => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s % k;
  };
}

const VALID = [
  `${PROC}services:\n  web:\n    command: ["node", "x"]\n    ports: ["8080:80", {target: 81}]\n    environment: {A: "\${A:-1}"}\n    depends_on: {db: {condition: service_healthy}}\n    volumes: ["./d:/d", "v:/v"]\n    extends: base\n  base: {command: y, labels: [a=b]}\n  db:\n    command: y\n    healthcheck: {test: ["CMD", "true"], interval: 1s}\nvolumes: {v: {}}\n`,
  `x-a: &a {image: nginx, restart: always}\nservices:\n  s1: {<<: *a, deploy: {replicas: 2}, secrets: [t]}\n  s2: {<<: *a, networks: {n: {aliases: [x]}}, profiles: [p]}\nnetworks: {n: {}}\nsecrets: {t: {file: ./t}}\n`,
];

const ATOMS = [0, -1, 65536, 1.5, true, null, '', '$', '${', '${X:?boom}', '$$', '}', 'a:b:c', '80a0', '~/x', '../..', [], {}, ['x'], { a: null }, 'service_healthy', 'default'];

async function loadOnly(dir: string, label: string): Promise<void> {
  try {
    await loadProject({ cwd: dir, env: {} });
  } catch (err) {
    assert.ok(err instanceof SpecError, `${label}: ${(err as Error)?.stack ?? String(err)}`);
    for (const p of err.problems) assert.equal(typeof p.message, 'string');
  }
}

type Tree = unknown;
function mutate(t: Tree, r: (k: number) => number, depth = 0): Tree {
  if (Array.isArray(t)) {
    if (t.length === 0 || r(4) === 0) return ATOMS[r(ATOMS.length)];
    const i = r(t.length);
    const copy = [...t];
    copy[i] = mutate(copy[i], r, depth + 1);
    return copy;
  }
  if (t && typeof t === 'object') {
    const keys = Object.keys(t);
    if (keys.length === 0 || (depth > 0 && r(5) === 0)) return ATOMS[r(ATOMS.length)];
    const k = keys[r(keys.length)];
    const copy: Record<string, unknown> = { ...(t as Record<string, unknown>) };
    if (r(6) === 0) delete copy[k];
    else copy[k] = mutate(copy[k], r, depth + 1);
    return copy;
  }
  return ATOMS[r(ATOMS.length)];
}

describe('fuzzing the loader', () => {
  it('character mutations of valid files only ever give SpecError', async () => {
    const r = rng(7);
    const chars = ['{', '}', '[', ']', ':', '-', '"', "'", '$', '\n', ' ', '\t', '&', '*', '!', '#', '<<', '!reset ', '!override ', 'x', '0', '%', '|', '>'];
    const dir = project({});
    const deadline = Date.now() + 4000;
    let cases = 0;
    for (let i = 0; i < 400 && Date.now() < deadline; i++, cases++) {
      const arr = [...VALID[i % VALID.length]];
      for (let m = 0; m < 1 + r(5); m++) {
        const at = r(arr.length);
        const op = r(3);
        if (op === 0) arr.splice(at, 1);
        else if (op === 1) arr.splice(at, 0, chars[r(chars.length)]);
        else arr[at] = chars[r(chars.length)];
      }
      const text = arr.join('');
      writeFileSync(join(dir, 'compose.yaml'), text);
      await loadOnly(dir, `case ${i}\n---\n${text}`);
    }
    assert.ok(cases >= 50, `only ${cases} cases ran in time`);
  });

  it('structural mutations (wrong types, odd values, removed keys) only ever give SpecError', async () => {
    const r = rng(11);
    const dir = project({ t: 'x' });
    const deadline = Date.now() + 4000;
    let cases = 0;
    for (let i = 0; i < 400 && Date.now() < deadline; i++, cases++) {
      let tree: Tree = parse(VALID[i % VALID.length], { merge: true });
      for (let m = 0; m < 1 + r(3); m++) tree = mutate(tree, r);
      const text = stringify(tree);
      writeFileSync(join(dir, 'compose.yaml'), text);
      await loadOnly(dir, `case ${i}\n---\n${text}`);
    }
    assert.ok(cases >= 50, `only ${cases} cases ran in time`);
  });
});

// YAML 1.2 reading with the position of every key path kept, so any later
// stage (schema, normalization, checks) can point at the user's line.
import { readFileSync } from 'node:fs';
import { LineCounter, visit, isAlias, type Alias, isMap, isPair, isScalar, isSeq, parse as parseYaml, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import type { SpecProblem } from './types.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Obj = { [k: string]: Json };
export type Path = (string | number)[];

/** A `!reset` or `!override` tag, kept through merging and dropped after it. */
export class Tagged {
  constructor(readonly tag: 'reset' | 'override', readonly value: Raw) {}
}

/** A loaded file's values may still hold tags until merged. */
export type Raw = Json | Tagged | Raw[] | { [k: string]: Raw };

export interface Source {
  file: string;
  /** The parsed value; null when the file could not be read or parsed. */
  value: Raw;
  lc: LineCounter;
  /** Offset of each key path's node, keyed by pathText. */
  offsets: Map<string, number>;
}

export function pathText(path: Path): string {
  let out = '';
  for (const p of path) out = typeof p === 'number' ? `${out}[${p}]` : out ? `${out}.${p}` : p;
  return out;
}

export function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Tagged);
}

/** Line and column of the nearest recorded ancestor of path. */
export function position(src: Source | undefined, path: Path): { line?: number; col?: number } {
  if (!src) return {};
  for (let n = path.length; n >= 0; n--) {
    const off = src.offsets.get(pathText(path.slice(0, n)));
    if (off !== undefined) return src.lc.linePos(off);
  }
  return {};
}

export function problemAt(src: Source | undefined, file: string, path: Path, message: string): SpecProblem {
  return { file: src?.file ?? file, ...position(src, path), path: pathText(path), message };
}

// Bounds the work a hostile file can cause through aliases ("billion laughs").
const MAX_ALIAS_EXPANSIONS = 10_000;
const MAX_DEPTH = 200;

class Walker {
  aliases = 0;
  /** Anchored nodes by name, in document order: yaml's own Alias.resolve walks the whole document each time. */
  readonly anchors = new Map<string, YamlNode[]>();
  constructor(readonly doc: Document.Parsed, readonly src: Source, readonly problems: SpecProblem[]) {
    visit(doc, {
      Node: (_k, n) => {
        const a = (n as { anchor?: string }).anchor;
        if (a) this.anchors.set(a, [...(this.anchors.get(a) ?? []), n as YamlNode]);
      },
    });
  }

  /** The node an alias names: the last anchor of that name before it, as YAML defines. */
  resolveAlias(alias: Alias): YamlNode | undefined {
    const at = alias.range?.[0] ?? Infinity;
    const list = this.anchors.get(alias.source) ?? [];
    let found: YamlNode | undefined;
    for (const n of list) if ((n.range?.[0] ?? 0) < at) found = n;
    return found;
  }

  fail(node: YamlNode | null | undefined, path: Path, message: string): void {
    const off = node?.range?.[0];
    this.problems.push({ file: this.src.file, ...(off !== undefined ? this.src.lc.linePos(off) : position(this.src, path)), path: pathText(path), message });
  }

  value(node: unknown, path: Path, depth: number): Raw {
    if (depth > MAX_DEPTH) {
      this.fail(node as YamlNode, path, `nested more than ${MAX_DEPTH} levels deep`);
      return null;
    }
    if (node == null) return null;
    if (isAlias(node)) {
      if (++this.aliases > MAX_ALIAS_EXPANSIONS) {
        this.fail(node, path, `more than ${MAX_ALIAS_EXPANSIONS} alias expansions`);
        return null;
      }
      const target = this.resolveAlias(node);
      if (!target) {
        this.fail(node, path, `unknown alias *${node.source}`);
        return null;
      }
      return this.value(target, path, depth + 1);
    }
    const tag = (node as YamlNode).tag;
    const own = tag === '!reset' || tag === '!override' ? tag.slice(1) as 'reset' | 'override' : undefined;
    let v: Raw;
    if (isScalar(node)) {
      v = node.value as Json;
      // An unknown tag leaves the scalar as text; read it again as plain YAML.
      if (own && node.type === 'PLAIN' && typeof node.source === 'string') v = node.source === '' ? null : (parseYaml(node.source) as Json);
      if (typeof v === 'bigint') v = Number(v);
      // Compose's YAML parser reads 0-prefixed integers as octal (mode: 0440), unlike YAML 1.2's core schema.
      if (node.type === 'PLAIN' && typeof node.source === 'string' && /^0[0-7]+$/.test(node.source)) v = parseInt(node.source, 8);
      if (v instanceof Date || (v !== null && typeof v === 'object')) v = String(node.source ?? v);
    } else if (isSeq(node)) {
      v = node.items.map((it, i) => this.value(it, [...path, i], depth + 1));
    } else if (isMap(node)) {
      const out: { [k: string]: Raw } = Object.create(null) as { [k: string]: Raw };
      const merged: { [k: string]: Raw }[] = [];
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const k = pair.key;
        if (isScalar(k) && typeof k.value === 'symbol') {
          // `<<` merge key: explicit keys win over merged ones, earlier merged maps over later.
          const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
          for (const s of sources) {
            const m = this.value(s, path, depth + 1);
            if (isObj(m)) merged.push(m);
            else this.fail(s as YamlNode, path, 'a merge key (<<) needs a mapping or a list of mappings');
          }
          continue;
        }
        if (!isScalar(k) || (k.value !== null && typeof k.value === 'object')) {
          this.fail(k as YamlNode, path, 'keys must be plain text');
          continue;
        }
        const key = k.value === null ? '' : String(k.value);
        // Checked here, not by yaml's uniqueKeys, which compares every pair with every other.
        if (Object.prototype.hasOwnProperty.call(out, key)) {
          this.fail(k, [...path, key], `duplicate key "${key}": each key may appear only once in a mapping`);
          continue;
        }
        out[key] = this.value(pair.value, [...path, key], depth + 1);
      }
      for (const m of merged) for (const [k, x] of Object.entries(m)) if (!(k in out)) out[k] = x;
      v = out;
    } else v = null;
    return own ? new Tagged(own, v) : v;
  }

  /** Records positions below a mapping value while its key's position stays the key's. */
  recordChildren(node: YamlNode, path: Path, depth: number): void {
    if (depth > MAX_DEPTH) return;
    if (isSeq(node)) {
      node.items.forEach((it, i) => {
        const n = it as YamlNode;
        if (n?.range) this.src.offsets.set(pathText([...path, i]), n.range[0]);
        if (n && !isAlias(n)) this.recordChildren(n, [...path, i], depth + 1);
      });
    } else if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair) || !isScalar(pair.key) || typeof pair.key.value === 'symbol') continue;
        const key = pair.key.value === null ? '' : String(pair.key.value);
        if (pair.key.range) this.src.offsets.set(pathText([...path, key]), pair.key.range[0]);
        const n = pair.value as YamlNode | null;
        if (n && !isAlias(n)) this.recordChildren(n, [...path, key], depth + 1);
      }
    }
  }
}

/** Reads and parses one Compose file; problems are appended, never thrown. */
export function readSource(file: string, problems: SpecProblem[], text?: string): Source {
  const lc = new LineCounter();
  const src: Source = { file, value: null, lc, offsets: new Map() };
  if (text === undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push({ file, path: '', message: `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      return src;
    }
  }
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false, merge: true, strict: false });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const { line, col } = lc.linePos(e.pos[0]);
      const msg = e.code === 'DUPLICATE_KEY' ? 'duplicate key: each key may appear only once in a mapping' : e.message.split('\n')[0];
      problems.push({ file, line, col, path: '', message: msg });
    }
    return src;
  }
  const before = problems.length;
  const w = new Walker(doc, src, problems);
  const contents = doc.contents as YamlNode | null;
  const v = w.value(contents, [], 0);
  if (contents) w.recordChildren(contents, [], 0);
  if (problems.length > before) return src;
  if (v === null) src.value = {};
  else if (!isObj(v)) problems.push({ file, line: 1, col: 1, path: '', message: 'a Compose file must be a mapping at the top level' });
  else src.value = v;
  return src;
}

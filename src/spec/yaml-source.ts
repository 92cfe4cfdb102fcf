// YAML 1.2 reading with the position of every key path kept, so any later
// stage (schema, normalization, checks) can point at the user's line.
import { readFileSync } from 'node:fs';
import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parse as parseYaml, parseDocument, type Node as YamlNode } from 'yaml';
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

function setKey(o: { [k: string]: Raw }, k: string, v: Raw): void {
  // defineProperty, so a key named "__proto__" stays a plain key.
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/**
 * Turns the YAML tree into plain values in one pass, recording the offset of
 * every key path on the way (not inside alias expansions: the alias is the
 * place to point at). Anchors are indexed as met, since yaml's own
 * Alias.resolve walks the whole document for each alias.
 */
class Walker {
  aliases = 0;
  readonly anchors = new Map<string, YamlNode>();
  constructor(readonly src: Source, readonly problems: SpecProblem[]) {}

  fail(node: YamlNode | null | undefined, ptext: string, message: string): void {
    const off = node?.range?.[0];
    const pos = off !== undefined ? this.src.lc.linePos(off) : {};
    this.problems.push({ file: this.src.file, ...pos, path: ptext, message });
  }

  value(node: unknown, ptext: string, record: boolean, depth: number): Raw {
    if (node == null) return null;
    if (depth > MAX_DEPTH) {
      this.fail(node as YamlNode, ptext, `nested more than ${MAX_DEPTH} levels deep`);
      return null;
    }
    if (isAlias(node)) {
      if (++this.aliases > MAX_ALIAS_EXPANSIONS) {
        this.fail(node, ptext, `more than ${MAX_ALIAS_EXPANSIONS} alias expansions`);
        return null;
      }
      const target = this.anchors.get(node.source);
      if (!target) {
        this.fail(node, ptext, `unknown alias *${node.source}`);
        return null;
      }
      return this.value(target, ptext, false, depth + 1);
    }
    const n = node as YamlNode & { anchor?: string };
    if (record && n.anchor) this.anchors.set(n.anchor, n);
    const tag = n.tag;
    const own = tag === '!reset' || tag === '!override' ? (tag.slice(1) as 'reset' | 'override') : undefined;
    let v: Raw;
    if (isScalar(node)) {
      v = node.value as Json;
      const plain = node.type === 'PLAIN' && typeof node.source === 'string' ? node.source : undefined;
      // An unknown tag leaves the scalar as text; read it again as plain YAML.
      if (own && plain !== undefined) v = plain === '' ? null : (parseYaml(plain) as Json);
      if (typeof v === 'bigint') v = Number(v);
      // Compose's YAML parser reads 0-prefixed integers as octal (mode: 0440), unlike YAML 1.2's core schema.
      if (plain !== undefined && typeof v === 'number' && /^0[0-7]+$/.test(plain)) v = parseInt(plain, 8);
      if (v instanceof Date || (v !== null && typeof v === 'object')) v = String(node.source ?? v);
    } else if (isSeq(node)) {
      const items = node.items;
      const arr: Raw[] = new Array(items.length);
      for (let i = 0; i < items.length; i++) {
        const it = items[i] as YamlNode | null;
        const pt = `${ptext}[${i}]`;
        if (record && it?.range) this.src.offsets.set(pt, it.range[0]);
        arr[i] = this.value(it, pt, record, depth + 1);
      }
      v = arr;
    } else if (isMap(node)) {
      const out: { [k: string]: Raw } = {};
      let merged: { [k: string]: Raw }[] | undefined;
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const k = pair.key;
        if (isScalar(k) && typeof k.value === 'symbol') {
          // `<<` merge key: explicit keys win over merged ones, earlier merged maps over later.
          const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
          for (const s of sources) {
            const m = this.value(s, ptext, false, depth + 1);
            if (isObj(m)) (merged ??= []).push(m);
            else this.fail(s as YamlNode, ptext, 'a merge key (<<) needs a mapping or a list of mappings');
          }
          continue;
        }
        if (!isScalar(k) || (k.value !== null && typeof k.value === 'object')) {
          this.fail(k as YamlNode, ptext, 'keys must be plain text');
          continue;
        }
        const key = k.value === null ? '' : String(k.value);
        const pt = ptext ? `${ptext}.${key}` : key;
        // Checked here, not by yaml's uniqueKeys, which compares every pair with every other.
        if (Object.prototype.hasOwnProperty.call(out, key)) {
          this.fail(k, pt, `duplicate key "${key}": each key may appear only once in a mapping`);
          continue;
        }
        if (record && k.range) this.src.offsets.set(pt, k.range[0]);
        setKey(out, key, this.value(pair.value, pt, record, depth + 1));
      }
      if (merged) for (const m of merged) for (const [k, x] of Object.entries(m)) if (!Object.prototype.hasOwnProperty.call(out, k)) setKey(out, k, x);
      v = out;
    } else v = null;
    return own ? new Tagged(own, v) : v;
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
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false, merge: true, strict: false });
  } catch (err) {
    // The parser recurses: thousands of nested brackets exhaust the stack.
    problems.push({ file, path: '', message: `cannot parse the file: ${(err as Error).message}` });
    return src;
  }
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const { line, col } = lc.linePos(e.pos[0]);
      const msg = e.code === 'DUPLICATE_KEY' ? 'duplicate key: each key may appear only once in a mapping' : e.message.split('\n')[0];
      problems.push({ file, line, col, path: '', message: msg });
    }
    return src;
  }
  const before = problems.length;
  const w = new Walker(src, problems);
  const contents = doc.contents as YamlNode | null;
  if (contents?.range) src.offsets.set('', contents.range[0]);
  const v = w.value(contents, '', true, 0);
  if (problems.length > before) return src;
  if (v === null) src.value = {};
  else if (!isObj(v)) problems.push({ file, line: 1, col: 1, path: '', message: 'a Compose file must be a mapping at the top level' });
  else src.value = v;
  return src;
}

// .env files as Compose reads them: KEY=VALUE, `export`, quotes (multi-line
// inside double quotes), comments, and ${VAR} references to earlier lines.
import { interpolate } from './interpolate.js';

export interface DotenvLineProblem {
  line: number;
  message: string;
}

export interface DotenvResult {
  vars: Record<string, string>;
  problems: DotenvLineProblem[];
}

const KEY = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s?/;
const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' };

/**
 * Parses a .env text. `lookup` gives values for ${VAR} not defined earlier in
 * the file; `raw` (env_file `format: raw`) keeps every value as written.
 */
export function readDotenv(text: string, lookup: (k: string) => string | undefined = () => undefined, raw = false): DotenvResult {
  const vars: Record<string, string> = {};
  const problems: DotenvLineProblem[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const env = new Proxy({} as Record<string, string | undefined>, { get: (_t, k: string) => vars[k] ?? lookup(k) });
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) continue;
    if (raw) {
      const eq = line.indexOf('=');
      if (eq > 0) vars[line.slice(0, eq).trim()] = line.slice(eq + 1);
      else vars[line] = lookup(line) ?? '';
      continue;
    }
    const m = KEY.exec(line);
    if (!m) {
      // A bare name takes its value from the environment, as Compose does.
      if (/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(line)) {
        const v = lookup(line);
        if (v !== undefined) vars[line] = v;
      } else problems.push({ line: lineNo, message: `expected KEY=VALUE, got "${line.length > 40 ? line.slice(0, 40) + '…' : line}"` });
      continue;
    }
    let rest = line.slice(m[0].length);
    const q = rest[0];
    let value: string;
    if (q === "'" || q === '"') {
      // A quoted value may run over several lines until its closing quote.
      let body = rest.slice(1);
      let end = closing(body, q);
      while (end < 0 && i + 1 < lines.length) {
        body += '\n' + lines[++i];
        end = closing(body, q);
      }
      if (end < 0) {
        problems.push({ line: lineNo, message: `unterminated ${q} quote` });
        break;
      }
      const after = body.slice(end + 1).trim();
      if (after && !after.startsWith('#')) problems.push({ line: lineNo, message: `unexpected text after the closing quote: "${after}"` });
      body = body.slice(0, end);
      if (q === "'") value = body;
      else {
        value = body.replace(/\\(.)/g, (all, c: string) => (c === '$' ? '$$' : ESCAPES[c] ?? all));
        value = tryInterpolate(value, env, lineNo, problems);
      }
    } else {
      rest = rest.replace(/\s+#.*$/, '').trim();
      value = tryInterpolate(rest, env, lineNo, problems);
    }
    vars[m[1]] = value;
  }
  return { vars, problems };
}

function closing(s: string, q: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && q === '"') i++;
    else if (s[i] === q) return i;
  }
  return -1;
}

function tryInterpolate(v: string, env: Record<string, string | undefined>, line: number, problems: DotenvLineProblem[]): string {
  try {
    return interpolate(v, env);
  } catch (err) {
    problems.push({ line, message: (err as Error).message });
    return v;
  }
}

/** .env syntax as Compose reads it; lines that do not parse are skipped. */
export function parseDotenv(text: string, lookup?: (k: string) => string | undefined): Record<string, string> {
  return readDotenv(text, lookup).vars;
}

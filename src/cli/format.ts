import { UserError } from './errors.js';

/** A plain text table, columns padded like docker's. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** "running" → "Running", as docker prints states. */
export function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** "3 seconds ago" style, as docker ps shows. */
export function ago(iso: string | undefined, nowMs = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((nowMs - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'}`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} hour${h === 1 ? '' : 's'}`;
  return `${Math.round(h / 24)} days`;
}

const COLORS = [36, 33, 32, 35, 34, 91, 92, 93, 94, 95, 96];

/** Colors a log prefix per service, as Compose does, only on a terminal. */
export function colorFor(name: string, enabled: boolean): (s: string) => string {
  if (!enabled) return (s) => s;
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const c = COLORS[h % COLORS.length];
  return (s) => `\x1b[${c}m${s}\x1b[0m`;
}

/** Bytes as `docker stats` prints them: 1.5MiB, 512KiB, 10B. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}

/**
 * A duration as Docker words it in "Running 5 minutes ago": "less than a
 * second", "about a minute", "3 hours", "2 weeks" (lowercase, no "ago").
 */
export function humanDuration(ms: number): string {
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 1) return 'less than a second';
  if (s < 60) return s === 1 ? '1 second' : `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'about a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'about an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 14) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 60) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 730) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** At most n characters, the cut marked with "…" (docker's Ellipsis). */
export function ellipsis(s: string, n: number): string {
  return [...s].length <= n ? s : [...s].slice(0, n - 1).join('') + '…';
}

/** A Go-style duration ("500ms", "5s", "1m30s") from milliseconds, as docker prints policies. */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}

/** A column of a listing: the field name templates use (`{{.Name}}`) and its table header. */
export interface Column {
  field: string;
  header: string;
}

/**
 * Writes rows the way docker's `--format` does: `table` (the default),
 * `json` (one object per line), `table {{.A}}\t{{.B}}` (those columns with
 * headers) or any other text with `{{.Field}}` placeholders, one line per row.
 * Only field placeholders and `{{json .}}` are understood, not all of Go's templates.
 */
export function renderRows(format: string | undefined, columns: Column[], rows: Record<string, string>[]): string {
  const lines = (text: string[]): string => text.map((l) => l + '\n').join('');
  if (format === undefined || format === '' || format === 'table') {
    return table(columns.map((c) => c.header), rows.map((r) => columns.map((c) => r[c.field] ?? ''))) + '\n';
  }
  if (format === 'json') return lines(rows.map((r) => JSON.stringify(sortedKeys(r))));
  const unescaped = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const known = new Map(columns.map((c) => [c.field, c]));
  const placeholder = /\{\{\s*(?:\.(\w+)|json\s+\.)\s*\}\}/g;
  for (const m of unescaped.matchAll(/\{\{([^}]*)\}\}/g)) {
    const inner = m[1].trim();
    const field = /^\.(\w+)$/.exec(inner)?.[1];
    if (inner !== 'json .' && (!field || !known.has(field))) {
      throw new UserError(`--format: cannot use "{{${m[1]}}}"; fields: ${columns.map((c) => `{{.${c.field}}}`).join(' ')}, or {{json .}}`);
    }
  }
  const fill = (tpl: string, r: Record<string, string>): string => tpl.replace(placeholder, (_m, f: string | undefined) => (f ? r[f] ?? '' : JSON.stringify(sortedKeys(r))));
  if (unescaped.startsWith('table ')) {
    const tpl = unescaped.slice('table '.length);
    const cols = tpl.split('\t');
    const headerOf = (cell: string): string => cell.replace(placeholder, (_m, f: string | undefined) => (f ? known.get(f)!.header : ''));
    return table(cols.map(headerOf), rows.map((r) => cols.map((c) => fill(c, r)))) + '\n';
  }
  return lines(rows.map((r) => fill(unescaped, r)));
}

function sortedKeys(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

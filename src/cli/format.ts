/** A plain text table, columns padded like docker's. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
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

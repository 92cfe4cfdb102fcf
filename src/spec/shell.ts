/** Splits a command string as a POSIX shell would (quotes, backslashes), without expanding anything. */
export function shellSplit(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let have = false;
  let q: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === q) q = undefined;
      else if (c === '\\' && q === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      have = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      have = true;
    } else if (/\s/.test(c)) {
      if (have || cur) out.push(cur);
      cur = '';
      have = false;
    } else cur += c;
  }
  if (q) throw new Error(`unterminated ${q} quote in "${s}"`);
  if (have || cur) out.push(cur);
  return out;
}

/**
 * `HOST:PORT` as flags and tokens give it: a name or IPv4 address, or an IPv6
 * one in brackets (`[::1]:2377`); the host may be empty (`:2377`, every
 * address) and the port may be left to `defaultPort`. The host comes back
 * without brackets. Undefined when the text is not of that form or the port
 * is not 1–65535; each caller says so in its own words.
 */
export function parseHostPort(s: string, defaultPort?: number): { host: string; port: number } | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]*)(?::(\d{1,5}))?$/.exec(s.trim());
  if (!m) return undefined;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/** host and port back as text, an IPv6 host in brackets. */
export function joinHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

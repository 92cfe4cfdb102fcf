// `cp` into a container under another name, as docker cp does: the engine
// only unpacks a tar into an existing folder, so a copy to a path that does not
// exist yet goes into its parent with the tar's top entry renamed.
import { posix } from 'node:path';
import { extract, pack, type Headers } from 'tar-stream';

/** What the engine says of a path in a container (the X-Docker-Container-Path-Stat header). */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode: permission bits and type bits above them. */
  mode: number;
  linkTarget: string;
}

const GO_MODE_DIR = 2 ** 31;
const GO_MODE_SYMLINK = 2 ** 27;

export const isDir = (s: PathStat): boolean => Math.floor(s.mode / GO_MODE_DIR) % 2 === 1;
export const isSymlink = (s: PathStat): boolean => Math.floor(s.mode / GO_MODE_SYMLINK) % 2 === 1;

/** The engine's stat header, decoded; undefined when absent or not understood. */
export function parsePathStat(header: string | string[] | undefined): PathStat | undefined {
  const text = Array.isArray(header) ? header[0] : header;
  if (!text) return undefined;
  try {
    const v = JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as Partial<PathStat>;
    if (typeof v.mode !== 'number') return undefined;
    return { name: v.name ?? '', size: v.size ?? 0, mode: v.mode, linkTarget: v.linkTarget ?? '' };
  } catch {
    return undefined;
  }
}

/** The one top-level name of a tar and whether it is a folder; throws when the tar holds several or none. */
export async function tarTop(archive: Buffer): Promise<{ name: string; dir: boolean }> {
  let top: { name: string; dir: boolean } | undefined;
  await eachEntry(archive, (h) => {
    const [first, ...rest] = trimSlashes(h.name).split('/');
    const dir = rest.length > 0 || h.type === 'directory';
    if (top && top.name !== first) throw new ArchiveError(`the copy holds "${top.name}" and "${first}": copy several files into a folder`);
    top = { name: first, dir: (top?.dir ?? false) || dir };
  });
  if (!top) throw new ArchiveError('nothing to copy: the archive is empty');
  return top;
}

/** The tar with its top-level name `from` changed to `to` (hard links inside it follow). */
export async function renameTop(archive: Buffer, from: string, to: string): Promise<Buffer> {
  const rename = (name: string): string => {
    const n = trimSlashes(name);
    return n === from ? to : n.startsWith(`${from}/`) ? `${to}${n.slice(from.length)}` : n;
  };
  const out = pack();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const packed = new Promise<void>((resolve, reject) => {
    out.once('end', resolve);
    out.once('error', reject);
  });
  await eachEntry(archive, (h, body) => {
    const header: Headers = { ...h, name: rename(h.name) };
    if (h.type === 'link' && h.linkname) header.linkname = rename(h.linkname);
    return new Promise<void>((resolve, reject) => out.entry(header, body, (err) => (err ? reject(err) : resolve())));
  });
  out.finalize();
  await packed;
  return Buffer.concat(chunks);
}

/** The path a copy to `dest` lands at when dest does not exist: its parent folder and the new name. */
export function splitDest(dest: string): { parent: string; name: string } {
  const clean = posix.normalize(dest);
  return { parent: posix.dirname(clean), name: posix.basename(clean) };
}

export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

function trimSlashes(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Calls `fn` for each entry with its whole body (a cp archive is held in memory already). */
function eachEntry(archive: Buffer, fn: (h: Headers, body: Buffer) => void | Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const ex = extract();
    ex.on('entry', (h: Headers, stream: NodeJS.ReadableStream, next: (err?: unknown) => void) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: Buffer) => parts.push(c));
      stream.once('end', () => {
        Promise.resolve()
          .then(() => fn(h, Buffer.concat(parts)))
          .then(() => next(), (err: unknown) => {
            ex.destroy(err as Error);
            reject(err);
          });
      });
    });
    ex.once('finish', resolve);
    // A broken tar can report more than once: the first one counts.
    ex.on('error', (err: Error) => reject(err instanceof ArchiveError ? err : new ArchiveError(`not a tar archive: ${err.message}`)));
    ex.end(archive);
  });
}

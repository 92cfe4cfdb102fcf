// A `build:` section's context as the engine's builder receives it: a tar of
// the folder without what .dockerignore leaves out, the Dockerfile (inline or
// not) always in it. Made by the driver for a local daemon, and by the CLI
// when the daemon is remote and cannot read the folder.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { pack } from 'tar-fs';

/** The name an inline Dockerfile travels under in the context: one no project file has. */
export const INLINE_DOCKERFILE = '.baton.Dockerfile.inline';

export interface ContextSpec {
  /** Absolute folder. */
  context: string;
  /** Relative to the context; ignored when `dockerfileInline` is given. */
  dockerfile: string;
  dockerfileInline?: string;
}

/** The context cannot be packed (no such folder, no Dockerfile): a message for the user. */
export class BuildContextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildContextError';
  }
}

/**
 * `.dockerignore` as the engine's builder reads it: one pattern a line, `#`
 * comments, `!` to take a path back, `*` and `?` within a path part, `**`
 * across parts; a pattern that names a folder covers what is inside it.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pat = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      const re = pat
        .split('/')
        .map((part) => (part === '**' ? '.*' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/');
      return { negate, re: new RegExp(`^${re.replace(/\.\*\//g, '(?:.*/)?')}(?:/.*)?$`) };
    });
  return (path) => {
    let ignored = false;
    for (const r of rules) if (r.re.test(path)) ignored = !r.negate;
    return ignored;
  };
}

/** The context as a tar stream, and the Dockerfile's name inside it. */
export function packContext(spec: ContextSpec): { tar: NodeJS.ReadableStream; dockerfile: string } {
  if (!existsSync(spec.context) || !statSync(spec.context).isDirectory()) throw new BuildContextError(`build context ${spec.context} is not a folder`);
  const inline = spec.dockerfileInline;
  const dockerfile = inline !== undefined ? INLINE_DOCKERFILE : spec.dockerfile;
  if (inline === undefined && !existsSync(join(spec.context, spec.dockerfile))) throw new BuildContextError(`dockerfile ${spec.dockerfile} not found in ${spec.context}`);
  const ignoreFile = join(spec.context, '.dockerignore');
  const ignored = existsSync(ignoreFile) ? dockerignore(readFileSync(ignoreFile, 'utf8')) : () => false;
  const tar = pack(spec.context, {
    ignore: (abs) => {
      const rel = relative(spec.context, abs).split(sep).join('/');
      // The Dockerfile and .dockerignore always go, as with `docker build`.
      return rel !== '' && rel !== dockerfile && rel !== '.dockerignore' && ignored(rel);
    },
    finalize: inline === undefined,
    finish: (p) => {
      if (inline === undefined) return;
      p.entry({ name: INLINE_DOCKERFILE }, inline);
      p.finalize();
    },
  });
  return { tar, dockerfile };
}

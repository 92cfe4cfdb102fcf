import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type Docker from 'dockerode';
import { pack } from 'tar-fs';

/** One image build, as a Compose `build:` section resolved by the caller. */
export interface BuildSpec {
  /** Absolute folder sent to the engine. */
  context: string;
  /** Relative to the context; ignored when `dockerfileInline` is given. */
  dockerfile: string;
  dockerfileInline?: string;
  args: Record<string, string>;
  target?: string;
  labels: Record<string, string>;
  /** The image name the result is tagged with. */
  tag: string;
}

/** A line of the engine's JSON progress stream. */
interface ProgressEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** Follows an engine progress stream (pull, build); rejects with the engine's own words when it reports an error. */
export function followProgress(docker: Docker, stream: NodeJS.ReadableStream, onEvent: (e: ProgressEvent) => void = () => {}): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed: string | undefined;
    docker.modem.followProgress(
      stream,
      (err: Error | null) => {
        if (err) reject(err);
        else if (failed !== undefined) reject(new Error(failed));
        else resolve();
      },
      (e: ProgressEvent) => {
        if (e.error || e.errorDetail?.message) failed ??= (e.errorDetail?.message ?? e.error ?? 'failed').trim();
        onEvent(e);
      },
    );
  });
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

/** Builds an image through the engine, each output line to onLine; rejects with the builder's message. */
export async function buildImage(docker: Docker, spec: BuildSpec, onLine: (line: string) => void): Promise<void> {
  if (!existsSync(spec.context) || !statSync(spec.context).isDirectory()) throw new Error(`build context ${spec.context} is not a folder on this node`);
  const ignoreFile = join(spec.context, '.dockerignore');
  const ignored = existsSync(ignoreFile) ? dockerignore(readFileSync(ignoreFile, 'utf8')) : () => false;
  // An inline Dockerfile travels in the context under a name no project file has.
  const inlineName = '.baton.Dockerfile.inline';
  const dockerfile = spec.dockerfileInline !== undefined ? inlineName : spec.dockerfile;
  if (spec.dockerfileInline === undefined && !existsSync(join(spec.context, spec.dockerfile))) {
    throw new Error(`dockerfile ${spec.dockerfile} not found in ${spec.context}`);
  }
  const tar = pack(spec.context, {
    ignore: (abs) => {
      const rel = relative(spec.context, abs).split(sep).join('/');
      // The Dockerfile and .dockerignore always go, as with `docker build`.
      return rel !== '' && rel !== dockerfile && rel !== '.dockerignore' && ignored(rel);
    },
    finalize: spec.dockerfileInline === undefined,
    finish: (p) => {
      if (spec.dockerfileInline === undefined) return;
      p.entry({ name: inlineName }, spec.dockerfileInline);
      p.finalize();
    },
  });
  const stream = await docker.buildImage(tar, {
    t: spec.tag,
    dockerfile,
    buildargs: spec.args,
    ...(spec.target ? { target: spec.target } : {}),
    labels: spec.labels,
    rm: true,
    forcerm: true,
  });
  let partial = '';
  await followProgress(docker, stream, (e) => {
    const text = partial + (e.stream ?? (e.status ? `${e.status}${e.progress ? ` ${e.progress}` : ''}\n` : ''));
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) onLine(l);
    if (e.error) onLine(e.error.trim());
  });
  if (partial.trim()) onLine(partial);
}

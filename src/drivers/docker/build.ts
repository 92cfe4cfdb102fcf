import type Docker from 'dockerode';
import { BuildContextError, INLINE_DOCKERFILE, packContext } from '../../model/build-context.js';
import { serverAddress, type RegistryAuth } from '../../model/image-ref.js';
import type { BuildOptions } from '../../model/build-options.js';

export { dockerignore } from '../../model/build-context.js';

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
  options: BuildOptions;
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
 * Builds an image through the engine, each output line to onLine; rejects
 * with the builder's message. The context is the folder of the spec on this
 * node, or `context`: a tar of it a remote client sent (already packed with
 * .dockerignore, the Dockerfile in it). `auth`: credentials by registry for
 * the images its Dockerfile starts FROM (the engine's X-Registry-Config, as
 * `docker build` sends every login it has).
 */
export async function buildImage(docker: Docker, spec: BuildSpec, onLine: (line: string) => void, context?: NodeJS.ReadableStream, auth?: Record<string, RegistryAuth>): Promise<void> {
  let tar: NodeJS.ReadableStream;
  let dockerfile: string;
  if (context) {
    tar = context;
    dockerfile = spec.dockerfileInline !== undefined ? INLINE_DOCKERFILE : spec.dockerfile;
  } else {
    try {
      ({ tar, dockerfile } = packContext(spec));
    } catch (err) {
      // Said of this node: the CLI may be elsewhere.
      throw err instanceof BuildContextError ? new Error(`${err.message} on this node`) : err;
    }
  }
  const o = spec.options;
  // The engine reads t and extrahosts as repeated parameters (docker-modem repeats an array's items), cachefrom and
  // ulimits as JSON; dockerode's types know neither the lists nor ulimits and isolation.
  const query: Omit<Docker.ImageBuildOptions, 't' | 'extrahosts'> & { t: string[]; extrahosts?: string[]; ulimits?: string; isolation?: string } = {
    t: [spec.tag, ...o.tags.filter((t) => t !== spec.tag)],
    dockerfile,
    buildargs: spec.args,
    ...(spec.target ? { target: spec.target } : {}),
    labels: spec.labels,
    rm: true,
    forcerm: true,
    ...(o.network !== undefined ? { networkmode: o.network } : {}),
    ...(o.extraHosts.length > 0 ? { extrahosts: o.extraHosts } : {}),
    ...(o.shmSizeBytes !== undefined ? { shmsize: o.shmSizeBytes } : {}),
    ...(o.noCache ? { nocache: true } : {}),
    ...(o.pull ? { pull: true } : {}),
    ...(o.cacheFrom.length > 0 ? { cachefrom: JSON.stringify(o.cacheFrom) } : {}),
    ...(o.ulimits.length > 0 ? { ulimits: JSON.stringify(o.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard }))) } : {}),
    ...(o.platform !== undefined ? { platform: o.platform } : {}),
    ...(o.isolation !== undefined ? { isolation: o.isolation } : {}),
  };
  const stream = await docker.buildImage(tar, {
    ...(query as unknown as Docker.ImageBuildOptions),
    ...(auth && Object.keys(auth).length > 0 ? { registryconfig: registryConfig(auth) } : {}),
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

/** X-Registry-Config: AuthConfigs keyed as the engine looks them up (Docker Hub under its v1 URL). */
function registryConfig(auth: Record<string, RegistryAuth>): Record<string, { username: string; password: string }> {
  return Object.fromEntries(
    Object.entries(auth).map(([registry, a]) => [
      serverAddress(registry),
      Object.assign({ username: a.username ?? '', password: a.password ?? '', serveraddress: a.serveraddress }, a.identitytoken ? { identitytoken: a.identitytoken } : {}),
    ]),
  );
}

// A Compose `build:` section's options as the engine's builder takes them
// (the classic builder, over the Engine API), and the ones it cannot honour:
// those are refused, naming the key, as Docker Compose refuses them with its
// classic builder, rather than building an image without them.
import type { BuildConfig } from '../spec/types.js';
import { ComposeValueError, extraHosts, parseBytes, strings, ulimits, type Ulimit } from './compose-values.js';

/** What a build command asks on top of the file, as `docker compose build --no-cache --pull`. */
export interface BuildFlags {
  noCache?: boolean;
  pull?: boolean;
}

/** The builder's options beyond context, Dockerfile, args, target and labels. */
export interface BuildOptions {
  /** More names for the image (`tags:`), besides the one the service runs. */
  tags: string[];
  /** The network of the build's RUN steps: `host`, `none`, `default` or an engine network's name. */
  network?: string;
  /** HOST:IP, added to /etc/hosts during RUN steps. */
  extraHosts: string[];
  shmSizeBytes?: number;
  noCache: boolean;
  /** Pull the images the Dockerfile starts FROM even when they are here. */
  pull: boolean;
  cacheFrom: string[];
  ulimits: Ulimit[];
  platform?: string;
  isolation?: string;
}

/** Keys only BuildKit serves; the classic builder has nothing to give them to. */
const BUILDKIT_ONLY: [key: string, what: string][] = [
  ['ssh', 'SSH agent forwarding'],
  ['secrets', 'build secrets'],
  ['additional_contexts', 'additional contexts'],
  ['entitlements', 'entitlements'],
];

const set = (v: unknown): boolean => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);

/**
 * The builder's options for one service's `build:` section, with the command's
 * flags. Throws ComposeValueError (key `build.<name>`) for a value the builder
 * cannot take or a key only BuildKit serves.
 */
export function buildOptions(service: string, b: BuildConfig, flags: BuildFlags = {}): BuildOptions {
  const key = (k: string): string => `build.${k}`;
  const refuse = (k: string, message: string): never => {
    throw new ComposeValueError(service, key(k), message);
  };
  for (const [k, what] of BUILDKIT_ONLY) {
    if (set(b[k])) refuse(k, `only BuildKit has ${what}; baton builds through the engine's classic builder (as docker compose does with DOCKER_BUILDKIT=0), which has none. Build this image with docker buildx and name it in image:`);
  }
  if (b.privileged === true) refuse('privileged', "only BuildKit runs privileged builds; baton builds through the engine's classic builder, which cannot");
  const platforms = strings(service, key('platforms'), b.platforms);
  if (platforms.length > 1) refuse('platforms', `the engine's classic builder builds one platform at a time, not ${platforms.length} (${platforms.join(', ')})`);
  const text = (k: string): string | undefined => {
    const v = b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') refuse(k, `expected a string, got ${JSON.stringify(v)}`);
    return v as string;
  };
  const flag = (k: string): boolean => {
    const v = b[k];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') refuse(k, `expected true or false, got ${JSON.stringify(v)}`);
    return v as boolean;
  };
  let shmSizeBytes: number | undefined;
  if (b.shm_size !== undefined && b.shm_size !== null) {
    shmSizeBytes = parseBytes(b.shm_size);
    if (shmSizeBytes === undefined) refuse('shm_size', `expected a size such as 64m or a number of bytes, got ${JSON.stringify(b.shm_size)}`);
  }
  const network = text('network');
  const platform = platforms[0];
  const isolation = text('isolation');
  return {
    tags: strings(service, key('tags'), b.tags),
    ...(network !== undefined ? { network } : {}),
    extraHosts: extraHosts(service, b.extra_hosts, key('extra_hosts')),
    ...(shmSizeBytes !== undefined ? { shmSizeBytes } : {}),
    noCache: flags.noCache === true || flag('no_cache'),
    pull: flags.pull === true || flag('pull'),
    cacheFrom: strings(service, key('cache_from'), b.cache_from),
    ulimits: ulimits(service, b.ulimits, key('ulimits')),
    ...(platform !== undefined ? { platform } : {}),
    ...(isolation !== undefined ? { isolation } : {}),
  };
}

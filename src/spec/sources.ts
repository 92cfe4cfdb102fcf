// Secret and config values that come from outside the Compose files (a file,
// an environment variable). They are read at load time, where a missing one
// can be reported at its key, but kept out of the project object itself so
// they never travel or get stored with the project's spec.
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Env } from './interpolate.js';
import type { ComposeProject } from './types.js';
import type { Path } from './yaml-source.js';

/** Values by top-level secret/config key, base64. */
export interface FileSources {
  secrets: Record<string, string>;
  configs: Record<string, string>;
}

/** Swarm's limit for one secret or config. */
export const MAX_SOURCE_BYTES = 500 * 1024;

const captured = new WeakMap<ComposeProject, { values: FileSources; check: () => void }>();

/**
 * What `loadProject` read for this project's secrets and configs (empty for a
 * project built otherwise). Throws the SpecError of a source that could not be read.
 */
export function fileSources(p: ComposeProject): FileSources {
  const c = captured.get(p);
  if (!c) return { secrets: {}, configs: {} };
  c.check();
  return c.values;
}

/** Reads the file and environment sources of every secret and config a service uses. */
export function readFileSources(p: ComposeProject, env: Env, fail: (path: Path, message: string) => void, check: () => void): void {
  const out: FileSources = { secrets: {}, configs: {} };
  for (const kind of ['secrets', 'configs'] as const) {
    const used = new Set(Object.values(p.services).flatMap((s) => s[kind].map((r) => r.source)));
    for (const key of used) {
      const def = p[kind][key];
      if (!def || def.external) continue;
      let value: Buffer | undefined;
      if (typeof def.file === 'string') {
        if (!existsSync(def.file) || !statSync(def.file).isFile()) {
          fail([kind, key, 'file'], `${def.file}: no such file`);
          continue;
        }
        value = readFileSync(def.file);
      } else if (typeof def.environment === 'string') {
        const v = env[def.environment];
        if (v === undefined) {
          fail([kind, key, 'environment'], `environment variable "${def.environment}" is not set`);
          continue;
        }
        value = Buffer.from(v);
      } else if (kind === 'configs' && typeof def.content === 'string') {
        continue; // part of the spec itself
      } else {
        fail([kind, key], `needs one of file, environment${kind === 'configs' ? ', content' : ''} or external: true`);
        continue;
      }
      if (value.length > MAX_SOURCE_BYTES) {
        fail([kind, key], `is ${value.length} bytes; at most ${MAX_SOURCE_BYTES} are allowed`);
        continue;
      }
      out[kind][key] = value.toString('base64');
    }
  }
  captured.set(p, { values: out, check });
}

// Where a key of a loaded project was written, for problems found after
// loading (by the daemon, say), so they too can name file and line.
import type { ComposeProject } from './types.js';
import type { Path } from './yaml-source.js';

export interface KeyPosition {
  file: string;
  line?: number;
  col?: number;
}

const locators = new WeakMap<ComposeProject, (path: Path) => KeyPosition>();

export function rememberLocator(p: ComposeProject, locate: (path: Path) => KeyPosition): void {
  locators.set(p, locate);
}

/** "services.web.secrets[2].target" -> ["services", "web", "secrets", 2, "target"] */
export function parseKeyPath(text: string): Path {
  const out: Path = [];
  for (const m of text.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return out;
}

/** The file and line of a key path ("services.web.ports[0]") of a project `loadProject` returned. */
export function locateKey(p: ComposeProject, text: string): KeyPosition | undefined {
  return locators.get(p)?.(parseKeyPath(text));
}

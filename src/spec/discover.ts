// Which files make the project, and what it is called.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SpecError } from './errors.js';

export const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

/** The Compose file pair Compose would find in dir: compose.yaml (or its older names) and its override. */
export function discover(dir: string): string[] {
  for (const name of DEFAULT_FILES) {
    const p = join(dir, name);
    if (existsSync(p)) {
      const override = p.replace(/\.ya?ml$/, (ext) => `.override${ext}`);
      return existsSync(override) ? [p, override] : [p];
    }
  }
  throw new SpecError([{ file: dir, path: '', message: `no Compose file found (looked for ${DEFAULT_FILES.join(', ')})` }]);
}

/** Project names as Compose keeps them: lower case letters, digits, "_" and "-", starting with a letter or digit. */
export function normalizeProjectName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[^a-z0-9]+/, '');
}

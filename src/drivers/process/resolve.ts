import { access, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

async function executable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** The file a command names: a path (relative to cwd) when it has a slash, else the first match in PATH. */
export async function resolveCommand(cmd: string, pathEnv: string, cwd: string): Promise<string | undefined> {
  if (cmd.includes('/')) {
    const p = isAbsolute(cmd) ? cmd : resolve(cwd, cmd);
    return (await executable(p)) ? p : undefined;
  }
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const p = join(isAbsolute(dir) ? dir : resolve(cwd, dir), cmd);
    if (await executable(p)) return p;
  }
  return undefined;
}

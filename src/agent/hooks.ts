// Compose lifecycle hooks (`post_start`, `pre_stop`): commands run inside a
// task's container, as `docker compose` runs them, through the driver's exec.
import type { Driver } from '../drivers/driver.js';
import type { Service } from '../model/types.js';

export interface Hook {
  command: string[];
  user?: string;
  privileged: boolean;
  workingDir?: string;
  env: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The service's hooks of one kind, as the loader normalized them (command a list, environment a mapping). */
export function hooksOf(svc: Service, which: 'post_start' | 'pre_stop'): Hook[] {
  const list = (svc.spec as unknown as Obj)[which];
  if (!Array.isArray(list)) return [];
  return list.filter(isObj).flatMap((h) => {
    if (!Array.isArray(h.command) || h.command.length === 0) return [];
    const env = isObj(h.environment) ? Object.entries(h.environment).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${k}=${String(v)}`) : [];
    return [{
      command: h.command.map(String),
      ...(typeof h.user === 'string' ? { user: h.user } : {}),
      privileged: h.privileged === true,
      ...(typeof h.working_dir === 'string' ? { workingDir: h.working_dir } : {}),
      env,
    }];
  });
}

/**
 * Runs the hooks one after the other in the task; stops at the first that
 * fails, saying which and how (with the start of its output). Undefined when
 * all succeeded (or there are none). `signal` cuts them short.
 */
export async function runHooks(driver: Driver, taskId: string, which: string, hooks: Hook[], signal?: AbortSignal): Promise<string | undefined> {
  if (hooks.length === 0 || !driver.execStream) return undefined;
  for (const [i, h] of hooks.entries()) {
    let output = '';
    let code: number | null;
    try {
      code = await driver.execStream(taskId, h.command, { env: h.env, user: h.user, workingDir: h.workingDir, privileged: h.privileged, ...(signal ? { signal } : {}) }, (_s, d) => {
        if (output.length < 2048) output += d.toString('utf8').slice(0, 2048 - output.length);
      });
    } catch (err) {
      return `${which}[${i}] could not run: ${(err as Error).message}`;
    }
    if (signal?.aborted) return `${which}[${i}] was cut short`;
    if (code !== 0) return `${which}[${i}] exited with code ${code}${output.trim() ? `: ${output.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
  }
  return undefined;
}

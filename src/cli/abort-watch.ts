// `up --abort-on-container-exit / --abort-on-container-failure / --exit-code-from`:
// while attached, the first task to end (or to fail) stops the whole project,
// and `up` exits with the code docker compose gives.
import type { ApiClient } from '../api/index.js';
import type { Task } from '../model/types.js';

export interface AbortOptions {
  /** stop: on any exit; fail: on an exit with a non-zero code. */
  cascade: 'stop' | 'fail';
  /** Whose exit code `up` returns (else the service of the task that ended first). */
  exitCodeFrom?: string;
}

export interface AbortWatch {
  /** Resolves once a task's end has stopped the project; with the exit code for `up`. */
  readonly aborted: Promise<number>;
  /** Ends the watch (attached `up` ended otherwise, by Ctrl-C). */
  close(): void;
}

const ENDED = new Set(['complete', 'failed', 'rejected']);

/**
 * Follows the events of `services` of the project from `since` (so an end between the deploy and
 * this call is not missed); on a task's death as `opts` says, prints it as
 * docker compose does, stops the project's services and resolves with the
 * exit code. `stop` stops the services (it must not return before they have).
 */
export function watchForAbort(client: ApiClient, project: string, services: string[], since: number, opts: AbortOptions, stop: () => Promise<void>): AbortWatch {
  const ac = new AbortController();
  let resolve!: (code: number) => void;
  const aborted = new Promise<number>((r) => (resolve = r));
  let aborting = false;
  // The death is told as an event; the task's end state is reported beside it and may be a moment behind.
  const endedTask = async (id: string): Promise<Task | undefined> => {
    for (let i = 0; i < 50; i++) {
      const t = (await client.status(project, true)).tasks.find((x) => x.id === id);
      if (!t || ENDED.has(t.state)) return t;
      await new Promise((r) => setTimeout(r, 50));
    }
    return undefined;
  };
  const onDeath = async (taskId: string): Promise<void> => {
    const t = await endedTask(taskId);
    if (!t || aborting || !ENDED.has(t.state)) return;
    const code = t.exitCode ?? (t.state === 'rejected' ? 125 : 1);
    process.stdout.write(`${t.service}-${t.slot} exited with code ${code}\n`);
    if (opts.cascade === 'fail' && code === 0) return;
    aborting = true;
    process.stdout.write('Aborting on container exit...\n');
    ac.abort();
    await stop();
    const from = opts.exitCodeFrom ?? t.service;
    if (from === t.service) return resolve(code);
    // The named service's newest task: ended by itself, or by the stop just now (waited for, as docker compose does).
    for (let i = 0; ; i++) {
      const newest = (await client.status(project, true)).tasks.filter((x) => x.service === from).sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
      if (!newest || ENDED.has(newest.state) || newest.state === 'shutdown' || i >= 300) return resolve(newest?.exitCode ?? 0);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  void client
    .events({ project, since, follow: true, signal: ac.signal }, (e) => {
      // Only the services this `up` runs, as docker compose watches only its own containers.
      if ((e.type === 'task.die' || e.type === 'task.reject') && e.task && e.service && services.includes(e.service)) void onDeath(e.task);
    })
    .catch(() => undefined);
  return { aborted, close: () => ac.abort() };
}

/** The project's newest event number now: a watch started after the deploy reads from here. */
export async function lastEventSeq(client: ApiClient, project: string): Promise<number> {
  let last = 0;
  await client.events({ project }, (e) => (last = Math.max(last, e.seq)));
  return last;
}

import type { ProjectStatus } from '../api/index.js';
import { isReady, upToDate, wantedSlots } from '../model/task.js';

export interface Readiness {
  done: boolean;
  /** Set when something will not become ready: names the service and why. */
  failure?: string;
  lines: { service: string; text: string; ok: boolean }[];
}

/** A slot that restarted this many times while we waited is crash-looping: `up --wait` gives up on it. */
const CRASH_LOOP_RESTARTS = 3;

/**
 * Whether every service of a project is up as `up --wait` means it: each slot
 * running (and healthy when it has a healthcheck), or exited 0 when it is a
 * one-shot that is not restarted.
 */
export function readiness(st: ProjectStatus, restartsAtStart: Map<string, number>, since = ''): Readiness {
  const lines: Readiness['lines'] = [];
  let done = true;
  let failure: string | undefined;
  for (const svc of [...st.services].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const mine = st.tasks.filter((t) => t.service === svc.name);
    const wanted = wantedSlots(svc, mine);
    const want = wanted.size;
    const tasks = mine.filter((t) => wanted.has(t.slot) && upToDate(t, svc));
    let ok = 0;
    const u = svc.updateStatus;
    // An update that paused, or that failed and rolls back, will not reach what was asked.
    if (u && !failure && (u.state === 'paused' || u.state === 'rollback_paused' || (u.state.startsWith('rollback') && u.startedAt >= since))) {
      failure = `service "${svc.name}": ${u.message}`;
    }
    // While an update runs, its own monitor judges the new tasks (pause, rollback or continue).
    const rolling = u !== undefined && (u.state === 'updating' || u.state === 'rollback_started');
    for (const t of tasks) {
      const oneShotDone = t.state === 'complete' && t.exitCode === 0 && svc.restart.condition !== 'any';
      if (isReady(t, svc) || oneShotDone) ok++;
      else if (!failure && !rolling) {
        const startRestarts = restartsAtStart.get(`${svc.name}#${t.slot}`) ?? 0;
        if ((t.state === 'failed' || t.state === 'rejected') && (svc.restart.condition === 'none' || (t.message ?? '').startsWith('gave up'))) {
          failure = `service "${svc.name}" (slot ${t.slot}) ${t.state}: ${t.error ?? `exit code ${t.exitCode}`}`;
        } else if (t.state === 'complete' && svc.restart.condition === 'none') {
          failure = `service "${svc.name}" (slot ${t.slot}) exited with code ${t.exitCode}`;
        } else if (t.health === 'unhealthy') {
          failure = `service "${svc.name}" (slot ${t.slot}) is unhealthy`;
        } else if (t.restarts - startRestarts >= CRASH_LOOP_RESTARTS) {
          failure = `service "${svc.name}" (slot ${t.slot}) keeps failing: restarted ${t.restarts - startRestarts} times (${t.error ?? 'no error recorded'})`;
        }
      }
    }
    const complete = ok >= want;
    if (!complete || (u && (u.state === 'updating' || u.state === 'rollback_started'))) done = false;
    const waiting = tasks.find((t) => t.message && !isReady(t, svc))?.message;
    const what = svc.healthcheck ? 'Healthy' : 'Running';
    const updating = u && (u.state === 'updating' || u.state === 'rollback_started') && !complete;
    const doing = updating ? `${u.state === 'updating' ? 'Updating' : 'Rolling back'} (revision ${u.to}): replaced` : complete ? what : (waiting ?? 'Starting');
    lines.push({ service: svc.name, ok: complete && !updating, text: `${doing} ${ok}/${want}` });
  }
  return { done: done && !failure, failure, lines };
}

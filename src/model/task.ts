import type { RestartPolicy, Service, Task, TaskState } from './types.js';

const TERMINAL: ReadonlySet<TaskState> = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned']);

export const isTerminal = (s: TaskState): boolean => TERMINAL.has(s);

/**
 * The slots a service wants running, read from its own tasks: 1..replicas,
 * or for a global service the slots the controllers keep wanted (one per
 * eligible node); none while it is stopped.
 */
export function wantedSlots(svc: Pick<Service, 'stopped' | 'mode' | 'replicas'>, tasks: Task[]): Set<number> {
  if (svc.stopped) return new Set();
  if (svc.mode === 'global') return new Set(tasks.filter((t) => t.desiredState === 'running').map((t) => t.slot));
  return new Set(Array.from({ length: svc.replicas }, (_, i) => i + 1));
}

/** A task that counts toward "up": running, and healthy when the service has a healthcheck. */
export function isReady(t: Task, svc: Pick<Service, 'healthcheck'>): boolean {
  return t.state === 'running' && (!svc.healthcheck || t.health === 'healthy');
}

/** Whether a task was made from the service's current spec (tasks from before specHash existed compare revisions). */
export function upToDate(t: Pick<Task, 'specHash' | 'revision'>, svc: Pick<Service, 'specHash' | 'revision'>): boolean {
  return t.specHash !== undefined ? t.specHash === svc.specHash : t.revision === svc.revision;
}

/** Whether a task may receive traffic: running and not known to be unhealthy. */
export function isRoutable(t: Task): boolean {
  return t.state === 'running' && t.health !== 'unhealthy' && t.health !== 'starting';
}

/** A task that ran at least this long resets the crash-loop back-off, as Docker's engine does. */
export const BACKOFF_RESET_MS = 10_000;
export const BACKOFF_MIN_MS = 100;
export const BACKOFF_MAX_MS = 60_000;

export type RestartDecision = { restart: false; reason: string } | { restart: true; notBefore: number };

/**
 * What the restart policy says of a task that ended while it should have run.
 * Back-off doubles per quick failure in a row (from the policy's delay, or 100 ms),
 * capped at a minute.
 */
export function decideRestart(t: Task, policy: RestartPolicy, nowMs: number): RestartDecision {
  const failed = t.state !== 'complete' || (t.exitCode ?? 0) !== 0;
  if (policy.condition === 'none') return { restart: false, reason: 'restart policy is "no"' };
  if (policy.condition === 'on-failure' && !failed) return { restart: false, reason: 'exited 0 with restart policy on-failure' };
  if (policy.maxAttempts > 0) {
    const within = (t.attempts ?? []).filter((a) => policy.windowMs === 0 || nowMs - Date.parse(a) <= policy.windowMs);
    if (within.length >= policy.maxAttempts) return { restart: false, reason: `gave up after ${within.length} restarts (max_attempts ${policy.maxAttempts})` };
  }
  const streak = t.streak ?? 0;
  const base = Math.max(policy.delayMs, policy.delayMs > 0 ? 0 : BACKOFF_MIN_MS);
  const delay = Math.min(Math.max(BACKOFF_MAX_MS, policy.delayMs), base * 2 ** Math.min(streak, 20));
  const finished = t.finishedAt ? Date.parse(t.finishedAt) : nowMs;
  return { restart: true, notBefore: finished + delay };
}

/** How many quick failures in a row the slot has had, counting this task. */
export function nextStreak(t: Task): number {
  const ran = t.startedAt && t.finishedAt ? Date.parse(t.finishedAt) - Date.parse(t.startedAt) : 0;
  return ran >= BACKOFF_RESET_MS ? 0 : (t.streak ?? 0) + 1;
}

/** Groups tasks by slot, newest first in each. */
export function bySlot(tasks: Task[]): Map<number, Task[]> {
  const m = new Map<number, Task[]>();
  for (const t of tasks) {
    const list = m.get(t.slot) ?? [];
    list.push(t);
    m.set(t.slot, list);
  }
  for (const list of m.values()) list.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.revision - a.revision || b.restarts - a.restarts));
  return m;
}

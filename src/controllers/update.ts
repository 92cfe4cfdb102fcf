import type { Service, Task, UpdatePolicy, UpdateStatus } from '../model/types.js';
import { isReady, isTerminal, upToDate } from '../model/task.js';

/** What the rolling update of one service allows in this pass. */
export interface UpdatePlan {
  /** Slots whose outdated task may be replaced now. */
  replace: Set<number>;
  /** The policy the replacement follows (update_config, or rollback_config while rolling back). */
  policy: UpdatePolicy;
  /** The service's new update status, when it changed. */
  status?: UpdateStatus;
  /** Set when the update failed and must roll back: the service returns to revision `from`. */
  rollback?: { reason: string };
  /** The earliest time a later pass has something to do (monitor or delay ending). */
  wakeAt?: number;
  /** Human-readable changes, for events. */
  events: string[];
}

const DEFAULT_POLICY: UpdatePolicy = { parallelism: 1, delayMs: 0, order: 'stop-first', failureAction: 'pause', monitorMs: 5_000, maxFailureRatio: 0 };

const ACTIVE = new Set(['updating', 'rollback_started']);

/** Whether an update (or rollback) is rolling through this service's slots now. */
export const updateActive = (svc: Service): boolean => !!svc.updateStatus && ACTIVE.has(svc.updateStatus.state);

/** Whether a new task has run (and been healthy, with a healthcheck) for the monitor period. */
function settled(t: Task, svc: Service, policy: UpdatePolicy, nowMs: number): { settled: boolean; at?: number } {
  if (!isReady(t, svc)) return { settled: false };
  const since = svc.healthcheck ? t.healthyAt : t.startedAt;
  const from = since ? Date.parse(since) : nowMs;
  const at = from + policy.monitorMs;
  return at <= nowMs ? { settled: true } : { settled: false, at };
}

/** Why a new task counts as a failed update, or undefined when it has not failed. */
function failure(t: Task, svc: Service): string | undefined {
  if (t.desiredState === 'shutdown' && t.state === 'shutdown') return undefined; // stopped on purpose
  if (t.state === 'rejected') return t.error ?? 'rejected';
  if (t.state === 'failed' || t.state === 'orphaned') return t.error ?? `exited with code ${t.exitCode ?? '?'}`;
  if (t.state === 'complete' && svc.restart.condition !== 'none') return 'exited before the update was monitored';
  if (t.health === 'unhealthy') return 'unhealthy';
  return undefined;
}

/**
 * Swarm's rolling update as a pure decision over one service's tasks, so a
 * restarted daemon picks it up exactly where the store says it was:
 * which outdated slots may be replaced now (parallelism, delay), which new
 * tasks failed (during `monitor`), and whether to pause, continue or roll back.
 */
/** `wanted`: the slots that should run (1..replicas, or one per eligible node for a global service). */
export function planUpdate(svc: Service, slots: Map<number, Task[]>, wanted: number[], nowMs: number): UpdatePlan {
  const status = svc.updateStatus;
  const rollingBack = status?.state.startsWith('rollback') ?? false;
  // Records written before update policies existed carry none: Swarm's defaults then.
  const policy = (rollingBack ? svc.rollback : svc.update) ?? DEFAULT_POLICY;
  const plan: UpdatePlan = { replace: new Set(), policy, events: [] };
  const wake = (at: number): void => {
    plan.wakeAt = plan.wakeAt === undefined ? at : Math.min(plan.wakeAt, at);
  };

  const outdated: number[] = [];
  let inFlight = 0;
  const failedNow: { id: string; slot: number; reason: string }[] = [];
  const startedAt = status ? Date.parse(status.startedAt) : 0;
  for (const slot of wanted) {
    const tasks = slots.get(slot) ?? [];
    const live = tasks.filter((t) => t.desiredState === 'running');
    const good = live.find((t) => upToDate(t, svc));
    // New tasks of this update that failed, whether or not they are still the slot's current task.
    if (status && ACTIVE.has(status.state)) {
      for (const t of tasks) {
        if (!upToDate(t, svc) || Date.parse(t.createdAt) < startedAt || status.failed.includes(t.id)) continue;
        const why = failure(t, svc);
        if (why) failedNow.push({ id: t.id, slot, reason: why });
      }
    }
    if (good) {
      // A failed new task that its restart policy will not bring back is done with (counted as a failure).
      if (isTerminal(good.state)) {
        if (!status?.failed.includes(good.id) && !failedNow.some((f) => f.id === good.id)) inFlight++;
      }
      else {
        const s = settled(good, svc, policy, nowMs);
        if (!s.settled) {
          inFlight++;
          if (s.at !== undefined) wake(s.at);
        }
      }
    } else if (live.length > 0) outdated.push(slot);
    else inFlight++; // being stopped (stop-first), or about to be recreated
  }

  if (!status || !ACTIVE.has(status.state)) {
    // No rolling update: outdated tasks (a restart, a first deploy's leftovers) are replaced at once,
    // unless an update was paused, which holds every slot where it is.
    if (!status || (status.state !== 'paused' && status.state !== 'rollback_paused')) for (const s of outdated) plan.replace.add(s);
    return plan;
  }

  let next: UpdateStatus = status;
  if (failedNow.length > 0) {
    next = { ...next, failed: [...next.failed, ...failedNow.map((f) => f.id)] };
    const ratio = next.failed.length / Math.max(1, wanted.length);
    const first = failedNow[0];
    const reason = `task of slot ${first.slot} failed: ${first.reason}`;
    if (ratio > policy.maxFailureRatio) {
      if (policy.failureAction === 'rollback' && !rollingBack) {
        plan.rollback = { reason };
        plan.events.push(`update to revision ${status.to} failed (${reason}); rolling back to revision ${status.from}`);
        return plan;
      }
      if (policy.failureAction === 'pause') {
        plan.status = { ...next, state: rollingBack ? 'rollback_paused' : 'paused', message: `${rollingBack ? 'rollback' : 'update'} paused: ${reason}` };
        plan.events.push(plan.status.message);
        return plan;
      }
    }
    plan.status = next;
  }

  if (outdated.length === 0 && inFlight === 0) {
    const done = rollingBack ? 'rollback_completed' : 'completed';
    plan.status = {
      ...next,
      state: done,
      completedAt: new Date(nowMs).toISOString(),
      message: rollingBack ? status.message.replace(/^rolling back/, 'rolled back') : `update to revision ${status.to} completed`,
    };
    plan.events.push(plan.status.message);
    return plan;
  }

  // With a delay, batches go one after another: the next starts `delay` after the last one settled.
  if (policy.delayMs > 0 && next.batchAt) {
    if (inFlight > 0) return plan;
    const batchAt = Date.parse(next.batchAt);
    const settledAt = next.settledAt && Date.parse(next.settledAt) >= batchAt ? Date.parse(next.settledAt) : undefined;
    if (settledAt === undefined) {
      plan.status = { ...next, settledAt: new Date(nowMs).toISOString() };
      wake(nowMs + policy.delayMs);
      return plan;
    }
    if (nowMs < settledAt + policy.delayMs) {
      wake(settledAt + policy.delayMs);
      return plan;
    }
  }
  const capacity = policy.parallelism === 0 ? outdated.length : Math.max(0, policy.parallelism - inFlight);
  for (const s of outdated.slice(0, capacity)) plan.replace.add(s);
  if (plan.replace.size > 0 && policy.delayMs > 0) plan.status = { ...next, batchAt: new Date(nowMs).toISOString() };
  return plan;
}

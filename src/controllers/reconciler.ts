import type { EventInput, NodeInfo, Service, Task } from '../model/types.js';
import { keys } from '../model/keys.js';
import { newId, now } from '../model/time.js';
import { bySlot, decideRestart, isReady, isTerminal, nextStreak, upToDate } from '../model/task.js';
import type { Op, Store, Versioned } from '../store/store.js';
import { ConflictError } from '../store/store.js';
import { constraintHolds, eligibleNodes, schedule } from '../scheduler/index.js';
import { dependencyGate } from './deps.js';
import { NodeChanges } from './node-plane.js';
import { planUpdate } from './update.js';
import { rollbackRecord } from '../model/revision.js';

/** Old tasks kept per slot for `ps -a` and restart counting, as Swarm's task history. */
const HISTORY_PER_SLOT = 5;
/** A full pass even when nothing changed, to repair anything a lost wake-up missed. */
const RESYNC_MS = 10_000;

/**
 * Compares the services' desired state with their tasks and writes the
 * difference: creates, replaces, restarts (with back-off), stops and removes
 * tasks, holds tasks back on depends_on, and asks the scheduler to place them.
 * Every pass starts from the store, so a crash at any point is repaired by the next.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private running = false;
  private again = false;
  private stopped = false;
  private unwatch: (() => void) | undefined;
  private resync: NodeJS.Timeout | undefined;

  constructor(private readonly store: Store, private readonly log: (msg: string) => void = () => {}) {}

  async start(): Promise<void> {
    const rev = await this.store.revision();
    const nodes = new NodeChanges();
    for (const v of await this.store.list('node')) nodes.changed({ revision: 0, kind: 'node', key: v.key, type: 'put', value: v.value, version: v.version });
    this.unwatch = this.store.watch(rev, (events) => {
      // Our own writes come back here too; a pass that changes nothing ends the echo.
      // Node writes matter when a node comes, goes, is drained or relabelled; not for heartbeats.
      if (events.some((e) => e.kind !== 'node' || nodes.changed(e))) this.kick(5);
    });
    this.resync = setInterval(() => this.kick(0), RESYNC_MS);
    this.resync.unref();
    this.kick(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    if (this.timer) clearTimeout(this.timer);
    if (this.resync) clearInterval(this.resync);
    while (this.running) await new Promise((r) => setTimeout(r, 5));
  }

  /** Runs a pass after `delayMs` (coalescing with any pass already due sooner). */
  kick(delayMs: number): void {
    if (this.stopped) return;
    const at = Date.now() + delayMs;
    if (at >= this.wakeAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = setTimeout(() => {
      this.wakeAt = Infinity;
      this.timer = undefined;
      void this.pass();
    }, delayMs);
  }

  private async pass(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      const next = await this.reconcile();
      if (next !== undefined) this.kick(Math.max(0, next - Date.now()));
    } catch (err) {
      if (err instanceof ConflictError) this.kick(10);
      else {
        this.log(`reconcile failed: ${(err as Error).stack ?? String(err)}`);
        this.kick(1000);
      }
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.kick(0);
      }
    }
  }

  /** One pass. Returns the time of the next restart that is due later, if any. */
  async reconcile(): Promise<number | undefined> {
    const nowMs = Date.now();
    const time = now();
    const services = new Map<string, Service>();
    const serviceVersions = new Map<string, Versioned<Service>>();
    for (const v of await this.store.list('service')) {
      services.set(v.value.id, v.value);
      serviceVersions.set(v.value.id, v);
    }
    const allTasks = await this.store.list('task');
    const nodes = (await this.store.list('node')).map((v) => v.value);
    const nodeById = new Map(nodes.map((n) => [n.id, n]));
    const tasksBySvc = new Map<string, Versioned<Task>[]>();
    for (const v of allTasks) {
      const id = `${v.value.project}/${v.value.service}`;
      const list = tasksBySvc.get(id) ?? [];
      list.push(v);
      tasksBySvc.set(id, list);
    }
    // The newest task of each slot, for depends_on.
    const current = new Map<string, Task[]>();
    for (const [id, list] of tasksBySvc) {
      current.set(id, [...bySlot(list.map((v) => v.value)).values()].map((l) => l[0]));
    }

    const ops: Op[] = [];
    const events: EventInput[] = [];
    let nextWake: number | undefined;
    const wake = (at: number): void => {
      nextWake = nextWake === undefined ? at : Math.min(nextWake, at);
    };
    const versionOf = new Map(allTasks.map((v) => [v.value.id, v.version]));
    const taskById = new Map(allTasks.map((v) => [v.value.id, v.value]));
    /** A task another one's container joined is still there to join: wanted, and not ended. */
    const joinable = (id: string): boolean => {
      const t = taskById.get(id);
      return t !== undefined && t.desiredState === 'running' && !isTerminal(t.state);
    };
    const put = (t: Task, isNew = false): void => {
      ops.push({ type: 'put', kind: 'task', key: keys.task(t), value: t, expect: isNew ? 0 : versionOf.get(t.id) });
    };

    // Tasks of services that no longer exist: stop them, then forget them.
    for (const [id, list] of tasksBySvc) {
      if (services.has(id)) continue;
      for (const v of list) {
        const t = v.value;
        if (t.desiredState === 'running') put({ ...t, desiredState: 'shutdown', updatedAt: time });
        else if (isTerminal(t.state) || (!t.node && t.state === 'pending')) {
          ops.push({ type: 'delete', kind: 'task', key: v.key, expect: v.version });
        }
      }
    }

    for (const svc of services.values()) {
      const list = (tasksBySvc.get(svc.id) ?? []).map((v) => v.value);
      const slots = bySlot(list);
      // Which slots should run: 1..replicas, or for a global service one slot per eligible node, each task pinned to it.
      const pins = new Map<number, string>();
      let wanted: number[];
      if (svc.stopped) wanted = [];
      else if (svc.mode === 'global') {
        wanted = [];
        const bySlotPin = new Map<string, number>();
        for (const [slot, tasks] of slots) {
          const pin = tasks[0].pin;
          if (pin && !bySlotPin.has(pin)) bySlotPin.set(pin, slot);
        }
        let free = 1;
        for (const n of [...eligibleNodes(svc, nodes)].sort((a, b) => (a.id < b.id ? -1 : 1))) {
          let slot = bySlotPin.get(n.id);
          if (slot === undefined) {
            while (slots.has(free) || pins.has(free)) free++;
            slot = free;
          }
          pins.set(slot, n.id);
          wanted.push(slot);
        }
      } else wanted = Array.from({ length: svc.replicas }, (_, i) => i + 1);
      const wantedSet = new Set(wanted);
      const misplaced = (t: Task): boolean => movedOff(t, nodeById, svc);
      const gate = (): string | undefined => {
        const anyRunning = list.some((t) => t.state === 'running' && t.desiredState === 'running');
        return anyRunning ? undefined : dependencyGate(svc, services, current);
      };
      // A container in another service's namespaces (network_mode/pid/ipc: service:X) runs where X's task runs.
      const sharedWith = namespaceTargets(svc);
      const nsPin = (): { pin: string } | Record<string, never> => {
        for (const target of sharedWith) {
          const node = (current.get(`${svc.project}/${target}`) ?? []).find((t) => t.desiredState === 'running' && t.state === 'running' && t.node)?.node;
          if (node) return { pin: node };
        }
        return {};
      };
      const create = (slot: number, prev?: Task, restart = false): void => {
        const t: Task = {
          id: newId(),
          project: svc.project,
          service: svc.name,
          slot,
          revision: svc.revision,
          specHash: svc.specHash,
          driver: svc.driver,
          ...(pins.has(slot) ? { pin: pins.get(slot) } : nsPin()),
          desiredState: 'running',
          state: 'pending',
          health: 'none',
          restarts: prev ? prev.restarts + (restart ? 1 : 0) : 0,
          streak: restart && prev ? nextStreak(prev) : 0,
          attempts: restart && prev ? [...(prev.attempts ?? []), time].slice(-Math.max(1, svc.restart.maxAttempts || 1)) : [],
          ports: [],
          createdAt: time,
          updatedAt: time,
        };
        const blocked = gate();
        if (blocked) {
          t.blockedBy = blocked;
          t.message = blocked;
        }
        put(t, true);
        events.push({
          type: restart ? 'task.restart' : 'task.create',
          project: svc.project,
          service: svc.name,
          task: t.id,
          message: restart ? `restarting slot ${slot} (restart ${t.restarts})` : `created task for slot ${slot}`,
        });
      };

      // A rolling update decides which outdated slots may be replaced now; a failed one may roll the service back.
      const plan = planUpdate(svc, slots, wanted, nowMs);
      if (plan.wakeAt !== undefined) wake(plan.wakeAt);
      for (const message of plan.events) events.push({ type: 'service.update', project: svc.project, service: svc.name, message });
      if (plan.rollback) {
        await this.rollback(svc, serviceVersions.get(svc.id)!, plan.rollback.reason, ops, events, time);
        continue;
      }
      if (plan.status) {
        ops.push({ type: 'put', kind: 'service', key: keys.service(svc.project, svc.name), value: { ...svc, updateStatus: plan.status }, expect: serviceVersions.get(svc.id)!.version });
      }
      const shutdown = (t: Task): void => {
        if (t.state === 'pending' && !t.node) put({ ...t, desiredState: 'shutdown', state: 'shutdown', updatedAt: time });
        else put({ ...t, desiredState: 'shutdown', updatedAt: time });
      };

      for (const slot of wanted) if (!slots.has(slot)) create(slot);

      for (const [slot, tasks] of slots) {
        const inRange = wantedSet.has(slot);
        const live = tasks.filter((t) => t.desiredState === 'running');
        if (!inRange) {
          for (const t of live) shutdown(t);
        } else if (live.length === 0) {
          // Replaced (stop-first update, stop/start): the slot gets a task of the current spec once the old one is gone.
          if (isTerminal(tasks[0].state)) create(slot, tasks[0]);
          else if (!tasks[0].node && tasks[0].state === 'pending') put({ ...tasks[0], state: 'shutdown', updatedAt: time });
        } else {
          // A task on a drained node, or one whose node no longer fits the service, is old too: replaced elsewhere, start-first.
          const good = live.filter((t) => upToDate(t, svc) && !misplaced(t));
          const old = live.filter((t) => !upToDate(t, svc) || misplaced(t));
          let cur: Task;
          if (good.length > 0) {
            cur = good[0];
            for (const t of good.slice(1)) shutdown(t); // never two current tasks in one slot
            // start-first: the old task leaves once its successor is ready (or at once if it is not serving anyway).
            for (const t of old) if (isReady(cur, svc) || t.state !== 'running' || isTerminal(cur.state)) shutdown(t);
          } else {
            cur = old[0];
            for (const t of old.slice(1)) shutdown(t);
            if (upToDate(cur, svc) && misplaced(cur)) {
              if (cur.state === 'running') create(slot, cur);
              else shutdown(cur);
              continue;
            }
            if (plan.replace.has(slot)) {
              if (isTerminal(cur.state)) {
                // Ended already: replaced by the new spec whatever the restart policy says.
                shutdown(cur);
                create(slot, cur);
              } else if (plan.policy.order === 'start-first' && cur.state === 'running') create(slot, cur);
              else shutdown(cur);
              continue;
            }
          }
          if (cur.state === 'running' && cur.joins?.some((id) => !joinable(id))) {
            // Its container shares the namespaces of a container that is gone (network_mode: service:X): it has lost them
            // too, so it is replaced, whatever its restart policy, as Compose restarts such a service with its target.
            // Stopped first: the slot's next task then waits on depends_on for the new target.
            shutdown(cur);
            events.push({ type: 'task.restart', project: svc.project, service: svc.name, task: cur.id, message: `replacing slot ${slot}: the container whose namespaces it shares was replaced` });
            continue;
          }
          if (cur.state === 'orphaned') {
            // Lost with its node or daemon, not failed: replaced whatever the restart policy.
            shutdown(cur);
            create(slot, cur);
          } else if (isTerminal(cur.state)) {
            const d = decideRestart(cur, svc.restart, nowMs);
            if (d.restart) {
              if (d.notBefore <= nowMs) {
                put({ ...cur, desiredState: 'shutdown', updatedAt: time });
                create(slot, cur, true);
              } else wake(d.notBefore);
            } else if (cur.message !== d.reason) put({ ...cur, message: d.reason, updatedAt: time });
          } else if (cur.blockedBy) {
            const blocked = gate();
            if (blocked !== cur.blockedBy) put({ ...cur, blockedBy: blocked, message: blocked, ...(blocked || cur.pin ? {} : nsPin()), updatedAt: time });
          }
        }
        // History: drop what is past the limit, and whole slots that are gone and done.
        // A stopped service keeps its tasks (ps -a, logs), as Compose keeps stopped containers.
        const scaledAway = !inRange && (svc.mode === 'global' || slot > svc.replicas);
        const done = tasks.filter((t) => t.desiredState === 'shutdown' && isTerminal(t.state));
        const drop = scaledAway && done.length === tasks.length ? done : tasks.slice(HISTORY_PER_SLOT).filter((t) => done.includes(t));
        for (const t of drop) ops.push({ type: 'delete', kind: 'task', key: keys.task(t), expect: versionOf.get(t.id) });
      }
    }

    // Placement: every pending, unblocked task that wants to run.
    const written = new Map<string, Task>();
    for (const op of ops) if (op.type === 'put' && op.kind === 'task') written.set(op.value.id, op.value);
    const latest = (v: Versioned<Task>): Task => written.get(v.value.id) ?? v.value;
    const fresh = [...written.values()].filter((t) => !versionOf.has(t.id));
    const candidates = [...allTasks.map(latest), ...fresh].filter(
      (t) => t.state === 'pending' && !t.node && !t.blockedBy && t.desiredState === 'running',
    );
    if (candidates.length > 0) {
      const running = [...allTasks.map(latest)].filter((t) => t.node && !isTerminal(t.state));
      const placed = schedule({ tasks: candidates, nodes, running, services });
      const byId = new Map(candidates.map((t) => [t.id, t]));
      // Where each task's first put is, so that placing tens of thousands of new tasks is not a scan of `ops` each.
      const opAt = new Map<string, number>();
      ops.forEach((o, i) => {
        if (o.type === 'put' && o.kind === 'task' && !opAt.has(o.key)) opAt.set(o.key, i);
      });
      for (const a of placed.assignments) {
        const t = byId.get(a.taskId)!;
        replaceOp(ops, opAt, { ...t, node: a.node, state: 'assigned', message: undefined, updatedAt: time }, versionOf);
      }
      for (const u of placed.unplaced) {
        const t = byId.get(u.taskId)!;
        if (t.message !== u.reason) {
          replaceOp(ops, opAt, { ...t, message: u.reason, updatedAt: time }, versionOf);
          // Said once per new reason, as Swarm's "no suitable node" task event.
          events.push({ type: 'task.pending', project: t.project, service: t.service, task: t.id, message: `slot ${t.slot} pending: ${u.reason}` });
        }
      }
    }

    if (ops.length > 0) {
      await this.store.commit(ops);
      if (events.length > 0) await this.store.appendEvents(events);
    }
    return nextWake;
  }

  /** Returns a failed service to the revision its update started from, as a new revision rolled out with rollback_config. */
  private async rollback(svc: Service, cur: Versioned<Service>, reason: string, ops: Op[], events: EventInput[], time: string): Promise<void> {
    const from = svc.updateStatus!.from;
    const rec = await this.store.get('revision', keys.revision(svc.project, svc.name, from));
    if (!rec) {
      const message = `update paused: ${reason}; revision ${from} to roll back to is not recorded`;
      ops.push({ type: 'put', kind: 'service', key: cur.key, value: { ...svc, updateStatus: { ...svc.updateStatus!, state: 'paused', message } }, expect: cur.version });
      events.push({ type: 'service.update', project: svc.project, service: svc.name, message });
      return;
    }
    const { service, revision } = rollbackRecord(svc, rec.value, reason, time);
    ops.push({ type: 'put', kind: 'service', key: cur.key, value: service, expect: cur.version });
    ops.push({ type: 'put', kind: 'revision', key: keys.revision(svc.project, svc.name, revision.revision), value: revision });
  }
}

/** The services whose container namespaces a service's containers join (`service:NAME` in network_mode, pid, ipc). */
function namespaceTargets(svc: Service): string[] {
  const spec = svc.spec as unknown as Record<string, unknown>;
  return ['network_mode', 'pid', 'ipc'].map((k) => spec[k]).filter((v): v is string => typeof v === 'string' && v.startsWith('service:')).map((v) => v.slice('service:'.length));
}

/**
 * A running task that should move: its node is being drained, or no longer
 * meets the service's constraints (labels changed). Down nodes are the node
 * monitor's business (it orphans their tasks); a global task moves nowhere,
 * its slot simply stops being wanted.
 */
function movedOff(t: Task, nodes: Map<string, NodeInfo>, svc: Service): boolean {
  if (!t.node || svc.mode === 'global') return false;
  const n = nodes.get(t.node);
  if (!n) return false;
  if (n.availability === 'drain') return true;
  return !(svc.spec.deploy?.placement?.constraints ?? []).every((c) => constraintHolds(c, n));
}

/** Puts `t` in place of an earlier op on the same task in this pass (found through `opAt`), or adds it. */
function replaceOp(ops: Op[], opAt: Map<string, number>, t: Task, versionOf: Map<string, number>): void {
  const key = keys.task(t);
  const i = opAt.get(key);
  if (i !== undefined) {
    const prev = ops[i] as Extract<Op, { type: 'put'; kind: 'task' }>;
    ops[i] = { ...prev, value: t };
  } else {
    opAt.set(key, ops.length);
    ops.push({ type: 'put', kind: 'task', key, value: t, expect: versionOf.get(t.id) });
  }
}

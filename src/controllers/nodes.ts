// Node lifecycle on the manager: a node that misses its heartbeats is marked
// down and its tasks orphaned, which the reconciler replaces elsewhere.
// Heartbeats are kept in memory (as Swarm's leader does) so they cost no
// store write each; the store gets heartbeatAt only now and then.
import type { EventInput, NodeInfo, Task } from '../model/types.js';
import { keys } from '../model/keys.js';
import { isTerminal } from '../model/task.js';
import { now } from '../model/time.js';
import type { Op, Store } from '../store/store.js';
import { ConflictError } from '../store/store.js';
import { heartbeatNode } from './node-plane.js';

export interface NodeMonitorOptions {
  /** A node not heard from for this long is down. */
  downAfterMs: number;
  /** The manager's own node: alive as long as this process is. */
  self?: string;
  /** How often heartbeatAt is written to the store for `node ls`. */
  persistEveryMs?: number;
  log?: (msg: string) => void;
}

/** A timer this late means the process stalled; shorter delays are the timeout's own slack. */
const STALL_MS = 1_000;
/**
 * Reading every task is what a check costs at scale: done when a node went
 * down or left, and at least this often (a task placed on a node just as it
 * went down is caught then).
 */
const RESCAN_MS = 10_000;

export class NodeMonitor {
  private readonly lastSeen = new Map<string, number>();
  private readonly persistedAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private checking = false;
  private scannedAt = 0;
  private members = new Set<string>();

  constructor(private readonly store: Store, private readonly opts: NodeMonitorOptions) {}

  start(): void {
    // After a manager restart every node gets a full period to be heard from.
    this.startedAt = Date.now();
    const every = Math.max(50, Math.floor(this.opts.downAfterMs / 4));
    let due = this.startedAt + every;
    this.timer = setInterval(() => {
      // Fired late by more than a period (and a second): this process could not run (a long pass, a
      // pause) and so heard no heartbeats meanwhile; that silence is ours, and every node gets a full period again.
      const t = Date.now();
      if (t - due > Math.max(every, STALL_MS)) this.startedAt = t;
      due = t + every;
      void this.check();
    }, every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * A heartbeat from `nodeId`. Returns false when it is not a member (removed).
   * `known`: its record, when the caller has just read it (the node port does, to authenticate).
   */
  async seen(nodeId: string, known?: NodeInfo): Promise<boolean> {
    const t = Date.now();
    this.lastSeen.set(nodeId, t);
    const cur = known ?? (await this.store.get('node', keys.node(nodeId)))?.value;
    if (!cur) return false;
    if (cur.state === 'down' || t - (this.persistedAt.get(nodeId) ?? 0) >= (this.opts.persistEveryMs ?? 15_000)) {
      this.persistedAt.set(nodeId, t);
      return heartbeatNode(this.store, nodeId);
    }
    return true;
  }

  /** One pass: nodes past their deadline go down; tasks on down or removed nodes are orphaned. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await this.pass();
          return;
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
        }
      }
    } catch (err) {
      this.opts.log?.(`node monitor: ${(err as Error).message}`);
    } finally {
      this.checking = false;
    }
  }

  private async pass(): Promise<void> {
    const t = Date.now();
    const nodes = await this.store.list('node');
    const ops: Op[] = [];
    const events: EventInput[] = [];
    const down = new Map<string, string>();
    for (const v of nodes) {
      const n = v.value;
      if (n.id === this.opts.self) continue;
      const last = Math.max(this.lastSeen.get(n.id) ?? 0, this.startedAt);
      if (n.state === 'ready' && t - last > this.opts.downAfterMs) {
        const message = `no heartbeat for ${((t - last) / 1000).toFixed(1)}s`;
        ops.push({ type: 'put', kind: 'node', key: v.key, value: { ...n, state: 'down', message }, expect: v.version });
        events.push({ type: 'node.down', node: n.id, message: `node ${n.hostname} (${n.id}) is down: ${message}` });
        this.opts.log?.(`node ${n.hostname} (${n.id}) is down: ${message}`);
        down.set(n.id, `node ${n.hostname} is down`);
      } else if (n.state === 'down') down.set(n.id, `node ${n.hostname} is down`);
    }
    const members = new Set(nodes.map((v) => v.value.id));
    const left = [...this.members].some((id) => !members.has(id));
    if (ops.length === 0 && !left && t - this.scannedAt < RESCAN_MS) {
      this.members = members;
      return;
    }
    for (const v of await this.store.list('task')) {
      const task: Task = v.value;
      if (!task.node || isTerminal(task.state)) continue;
      const why = down.get(task.node) ?? (members.has(task.node) ? undefined : `node ${task.node} left the cluster`);
      if (!why) continue;
      ops.push({ type: 'put', kind: 'task', key: v.key, value: { ...task, state: 'orphaned', error: why, finishedAt: now(), updatedAt: now() }, expect: v.version });
    }
    if (ops.length > 0) {
      await this.store.commit(ops);
      if (events.length > 0) await this.store.appendEvents(events);
    }
    // Only once written: a conflict makes the retry scan again.
    this.scannedAt = t;
    this.members = members;
  }
}

export function isEligible(n: NodeInfo): boolean {
  return n.state === 'ready' && n.availability === 'active';
}

import type { NodeInfo, Service, Task } from '../model/types.js';
import {
  type Attribute,
  type Strategy,
  attribute,
  compileConstraint,
  F_CPU,
  F_MAX_REPLICAS,
  F_MEMORY,
  F_PORT,
  hostPorts,
  noSuitableNode,
  parseCpus,
  parseMemory,
  serviceStrategy,
  STATIC_FILTERS,
  staticFailure,
  WHY,
} from './filters.js';
import { Heap, NodeHeap } from './heap.js';

export interface ScheduleInput {
  /** Pending tasks to place. */
  tasks: Task[];
  nodes: NodeInfo[];
  /** Tasks already placed (for spread, resources and host ports). */
  running: Task[];
  /** Services by id `project/name`. */
  services: Map<string, Service>;
  /** Default layout; a service's `x-baton: {placement}` overrides it. Spread when absent. */
  strategy?: Strategy;
}

export interface ScheduleResult {
  assignments: { taskId: string; node: string }[];
  unplaced: { taskId: string; reason: string }[];
}

/**
 * Places pending tasks on nodes. Every filter must pass (ready and active,
 * driver, constraints, CPU and memory reservations, max_replicas_per_node,
 * host ports; a pinned task only on its node); then spread preferences pick
 * the label group with the fewest tasks of the service, and inside it spread
 * takes the node with the fewest tasks of the service, then the fewest tasks
 * (binpack: the most tasks), then the smallest id.
 *
 * Tasks are taken service by service in the order each service first appears
 * in `tasks`, a service's pinned tasks before its others, each in input order.
 * Pure: the same input always gives the same answer.
 */
export function schedule(input: ScheduleInput): ScheduleResult {
  const s = new Scheduler(input.nodes, input.services, input.strategy);
  s.observe(input.running);
  return s.place(input.tasks);
}

/** What placing a task of one service takes, worked out once per service. */
interface Needs {
  /** Thousandths of a CPU, and bytes, reserved by each task; 0 for none. */
  cpu: number;
  memory: number;
  ports: string[];
  /** 0: no cap. */
  maxPerNode: number;
  strategy: Strategy;
  /** Spread preferences, outermost first. */
  prefs: Attribute[];
  driver: string;
  constraints: string[];
  /** Worked out on the first placement, not for services only observed. */
  eligible?: Eligibility;
}

/** The static filters' verdict for one driver and set of constraints, shared by every service that says the same. */
interface Eligibility {
  /** Per node index: the first static filter it fails, or -1. */
  failed: Int8Array;
  /** Indices of the nodes that pass, ascending (id order). */
  nodes: Int32Array;
  /** Nodes ruled out per static filter, for the reason of an unplaced task. */
  ruledOut: number[];
}

/** Spread key: tasks of the service first, all tasks second, packed in one exact number (below 2^53 while a node holds under 2^26 tasks). */
const SERVICE_WEIGHT = 2 ** 26;

/**
 * The state `schedule()` works on, kept apart so a caller that watches the
 * store can keep one between calls: build it once over a node snapshot,
 * `observe()` the tasks already placed (O(tasks)), then `place()` batches.
 * Each `place()` records its own assignments, so the next batch sees them.
 * It only ever adds: when tasks go away or nodes change, build a new one.
 *
 * Cost of `place()`: per service in the batch, one pass over the nodes its
 * constraints allow (a heap is built from them); per task, O(log nodes) heap
 * work plus the nodes found full on the way, each dropped for good. Nothing
 * depends on how many tasks are already placed.
 */
export class Scheduler {
  private readonly nodes: NodeInfo[];
  private readonly index = new Map<string, number>();
  /** Tasks per node; CPU (thousandths) and memory reserved per node; host ports held per node. */
  private readonly total: Int32Array;
  private readonly cpuUsed: Float64Array;
  private readonly memUsed: Float64Array;
  private readonly cpuCap: Float64Array;
  private readonly memCap: Float64Array;
  private readonly ports: (Set<string> | undefined)[];
  /** Per service id: tasks per node index (sparse: most services touch few nodes). */
  private readonly perService = new Map<string, Map<number, number>>();
  private readonly needs = new Map<string, Needs | null>();
  private readonly eligibility = new Map<string, Eligibility>();

  constructor(
    nodes: NodeInfo[],
    private readonly services: Map<string, Service>,
    private readonly strategy: Strategy = 'spread',
  ) {
    const sorted = [...nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.nodes = sorted.filter((n, i) => i === 0 || n.id !== sorted[i - 1].id);
    const count = this.nodes.length;
    this.total = new Int32Array(count);
    this.cpuUsed = new Float64Array(count);
    this.memUsed = new Float64Array(count);
    this.cpuCap = new Float64Array(count);
    this.memCap = new Float64Array(count);
    this.ports = new Array<Set<string> | undefined>(count);
    this.nodes.forEach((n, i) => {
      this.index.set(n.id, i);
      this.cpuCap[i] = Math.round(n.capacity.cpus * 1000);
      this.memCap[i] = n.capacity.memoryBytes;
    });
  }

  /** Counts tasks already on nodes: their share of spread, reservations and host ports. Tasks on unknown nodes are ignored. */
  observe(tasks: Iterable<Task>): void {
    for (const t of tasks) {
      if (!t.node) continue;
      const n = this.index.get(t.node);
      if (n === undefined) continue;
      const key = `${t.project}/${t.service}`;
      this.commit(n, key, this.needsOf(key), this.countsOf(key));
    }
  }

  /** Places `tasks` (see `schedule()` for the order and the rules) and records the assignments. */
  place(tasks: Task[]): ScheduleResult {
    const result: ScheduleResult = { assignments: [], unplaced: [] };
    const groups = new Map<string, { pinned: Task[]; free: Task[] }>();
    for (const t of tasks) {
      const key = `${t.project}/${t.service}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { pinned: [], free: [] }));
      (t.pin !== undefined ? g.pinned : g.free).push(t);
    }
    for (const [key, g] of groups) {
      const need = this.needsOf(key);
      if (!need) {
        for (const t of [...g.pinned, ...g.free]) result.unplaced.push({ taskId: t.id, reason: 'its service is gone' });
        continue;
      }
      for (const t of g.pinned) this.placePinned(t, key, need, result);
      if (g.free.length > 0) this.placeFree(g.free, key, need, result);
    }
    return result;
  }

  private placePinned(t: Task, key: string, need: Needs, result: ScheduleResult): void {
    const n = this.index.get(t.pin!);
    if (n === undefined) {
      result.unplaced.push({ taskId: t.id, reason: `no suitable node (node ${t.pin} is not in the cluster)` });
      return;
    }
    const counts = this.countsOf(key);
    let failed: number = this.eligibleFor(need).failed[n];
    if (failed < 0) failed = this.dynamicFailure(n, need, counts.get(n) ?? 0);
    if (failed >= 0) {
      const ruledOut = new Array<number>(WHY.length).fill(0);
      ruledOut[failed] = 1;
      result.unplaced.push({ taskId: t.id, reason: noSuitableNode(ruledOut) });
      return;
    }
    this.commit(n, key, need, counts);
    result.assignments.push({ taskId: t.id, node: this.nodes[n].id });
  }

  /**
   * Places the unpinned tasks of one service. While they are placed nothing
   * else changes, and a node only ever loses room, so a node found full is
   * full for the rest of them and leaves the heap for good.
   */
  private placeFree(tasks: Task[], key: string, need: Needs, result: ScheduleResult): void {
    const eligible = this.eligibleFor(need);
    const counts = this.countsOf(key);
    const mine = new Int32Array(this.nodes.length);
    for (const [n, c] of counts) mine[n] = c;
    const total = this.total;
    const keyOf = need.strategy === 'binpack' ? (n: number) => -total[n] : (n: number) => mine[n] * SERVICE_WEIGHT + total[n];
    const fits = (n: number): boolean => this.dynamicFailure(n, need, mine[n]) < 0;
    const picker = need.prefs.length === 0 ? this.flatPicker(eligible, keyOf, fits) : this.groupPicker(need.prefs, eligible, counts, keyOf, fits);
    for (let i = 0; i < tasks.length; i++) {
      const n = picker.next();
      if (n < 0) {
        const reason = this.reasonFor(need, eligible, mine);
        for (let j = i; j < tasks.length; j++) result.unplaced.push({ taskId: tasks[j].id, reason });
        return;
      }
      this.commit(n, key, need, counts);
      mine[n]++;
      picker.placed(n);
      result.assignments.push({ taskId: tasks[i].id, node: this.nodes[n].id });
    }
  }

  /** No preferences: one heap over the eligible nodes. */
  private flatPicker(eligible: Eligibility, keyOf: (n: number) => number, fits: (n: number) => boolean): Picker {
    const heap = new NodeHeap(eligible.nodes.length);
    for (const n of eligible.nodes) heap.add(keyOf(n), n);
    heap.heapify();
    return {
      next() {
        while (heap.size > 0) {
          const n = heap.topId();
          if (fits(n)) return n;
          heap.pop();
        }
        return -1;
      },
      placed(n) {
        heap.rekeyTop(keyOf(n));
      },
    };
  }

  /**
   * Spread preferences: the eligible nodes are split by their label values
   * (nodes without the label are a group of their own), one heap per group
   * of the innermost level. A heap of those groups is keyed by the service's
   * task counts along each group's path, then the group's best node. These
   * keys only grow while one service is placed: a placement adds one to the
   * counts along its group's path, which come first in the key (so even
   * binpack, whose chosen node gets a smaller key, leaves its group's key
   * larger), and a node leaving a group's heap leaves one no better on top.
   * So a stale key is simply refreshed and pushed down when it reaches the top.
   */
  private groupPicker(prefs: Attribute[], eligible: Eligibility, counts: Map<number, number>, keyOf: (n: number) => number, fits: (n: number) => boolean): Picker {
    const levels = prefs.length;
    const prefixIds = new Map<string, number>();
    const groupCount: number[] = [];
    const pathOf = (node: NodeInfo): number[] => {
      const path: number[] = [];
      let prefix = '';
      for (let l = 0; l < levels; l++) {
        const v = prefs[l](node);
        prefix += v === undefined ? '\u0000-' : `\u0000=${v}`;
        let id = prefixIds.get(prefix);
        if (id === undefined) {
          prefixIds.set(prefix, (id = groupCount.length));
          groupCount.push(0);
        }
        path.push(id);
      }
      return path;
    };
    // Tasks of the service on any node count toward its groups, eligible or not.
    for (const [n, c] of counts) for (const id of pathOf(this.nodes[n])) groupCount[id] += c;

    interface Leaf {
      path: number[];
      heap: NodeHeap;
      /** Counts along the path, then the best node's key and index. */
      key: number[];
    }
    const members = new Map<number, { path: number[]; nodes: number[] }>();
    for (const n of eligible.nodes) {
      const path = pathOf(this.nodes[n]);
      const leafId = path[levels - 1];
      let m = members.get(leafId);
      if (!m) members.set(leafId, (m = { path, nodes: [] }));
      m.nodes.push(n);
    }
    const clean = (leaf: Leaf): boolean => {
      while (leaf.heap.size > 0 && !fits(leaf.heap.topId())) leaf.heap.pop();
      return leaf.heap.size > 0;
    };
    const fresh = (leaf: Leaf, into: number[]): void => {
      for (let l = 0; l < levels; l++) into[l] = groupCount[leaf.path[l]];
      into[levels] = leaf.heap.topKey();
      into[levels + 1] = leaf.heap.topId();
    };
    const compare = (a: Leaf, b: Leaf): number => {
      for (let i = 0; i < a.key.length; i++) if (a.key[i] !== b.key[i]) return a.key[i] - b.key[i];
      return 0;
    };
    const groups = new Heap<Leaf>(compare);
    for (const m of members.values()) {
      const leaf: Leaf = { path: m.path, heap: new NodeHeap(m.nodes.length), key: [] };
      for (const n of m.nodes) leaf.heap.add(keyOf(n), n);
      leaf.heap.heapify();
      if (!clean(leaf)) continue;
      fresh(leaf, leaf.key);
      groups.push(leaf);
    }
    const now: number[] = new Array<number>(levels + 2);
    let chosen: Leaf | undefined;
    return {
      next() {
        for (;;) {
          const leaf = groups.peek();
          if (!leaf) return -1;
          if (!clean(leaf)) {
            groups.pop();
            continue;
          }
          fresh(leaf, now);
          let same = true;
          for (let i = 0; i < now.length; i++) if (now[i] !== leaf.key[i]) same = false;
          if (!same) {
            for (let i = 0; i < now.length; i++) leaf.key[i] = now[i];
            groups.topChanged();
            continue;
          }
          chosen = leaf;
          return leaf.heap.topId();
        }
      },
      placed(n) {
        chosen!.heap.rekeyTop(keyOf(n));
        for (const id of chosen!.path) groupCount[id]++;
      },
    };
  }

  /** Why no node took a task of the service: every node, counted under the first filter it fails. */
  private reasonFor(need: Needs, eligible: Eligibility, mine: Int32Array): string {
    const ruledOut = [...eligible.ruledOut, ...new Array<number>(WHY.length - STATIC_FILTERS).fill(0)];
    for (const n of eligible.nodes) {
      const f = this.dynamicFailure(n, need, mine[n]);
      if (f >= 0) ruledOut[f]++;
    }
    return noSuitableNode(ruledOut);
  }

  /** The first filter that depends on what is placed (resources, max_replicas_per_node, host ports) that node `n` fails, or -1. */
  private dynamicFailure(n: number, need: Needs, mine: number): number {
    if (need.cpu > 0 && this.cpuUsed[n] + need.cpu > this.cpuCap[n]) return F_CPU;
    if (need.memory > 0 && this.memUsed[n] + need.memory > this.memCap[n]) return F_MEMORY;
    if (need.maxPerNode > 0 && mine >= need.maxPerNode) return F_MAX_REPLICAS;
    if (need.ports.length > 0) {
      const held = this.ports[n];
      if (held) for (const p of need.ports) if (held.has(p)) return F_PORT;
    }
    return -1;
  }

  /** Books a task of service `key` on node `n`. */
  private commit(n: number, key: string, need: Needs | null, counts: Map<number, number>): void {
    this.total[n]++;
    counts.set(n, (counts.get(n) ?? 0) + 1);
    if (!need) return;
    this.cpuUsed[n] += need.cpu;
    this.memUsed[n] += need.memory;
    if (need.ports.length > 0) {
      let held = this.ports[n];
      if (!held) this.ports[n] = held = new Set();
      for (const p of need.ports) held.add(p);
    }
  }

  private countsOf(key: string): Map<number, number> {
    let c = this.perService.get(key);
    if (!c) this.perService.set(key, (c = new Map()));
    return c;
  }

  private needsOf(key: string): Needs | null {
    let need = this.needs.get(key);
    if (need !== undefined) return need;
    const svc = this.services.get(key);
    need = null;
    if (svc) {
      const deploy = svc.spec.deploy;
      const reservations = deploy?.resources?.reservations;
      need = {
        cpu: parseCpus(reservations?.cpus),
        memory: parseMemory(reservations?.memory),
        ports: hostPorts(svc),
        maxPerNode: Math.max(0, Math.floor(Number(deploy?.placement?.max_replicas_per_node ?? 0)) || 0),
        strategy: serviceStrategy(svc) ?? this.strategy,
        prefs: (deploy?.placement?.preferences ?? [])
          .filter((p) => typeof p?.spread === 'string')
          .map((p) => attribute(p.spread.trim()) ?? (() => undefined)),
        driver: svc.driver,
        constraints: deploy?.placement?.constraints ?? [],
      };
    }
    this.needs.set(key, need);
    return need;
  }

  private eligibleFor(need: Needs): Eligibility {
    return (need.eligible ??= this.eligibilityOf(need.driver, need.constraints));
  }

  private eligibilityOf(driver: string, constraints: string[]): Eligibility {
    const cacheKey = [driver, ...constraints].join('\u0000');
    let e = this.eligibility.get(cacheKey);
    if (e) return e;
    const compiled = constraints.map(compileConstraint);
    const failed = new Int8Array(this.nodes.length);
    const ruledOut = new Array<number>(STATIC_FILTERS).fill(0);
    const pass: number[] = [];
    this.nodes.forEach((node, i) => {
      const f = staticFailure(node, driver, compiled);
      failed[i] = f;
      if (f < 0) pass.push(i);
      else ruledOut[f]++;
    });
    e = { failed, nodes: Int32Array.from(pass), ruledOut };
    this.eligibility.set(cacheKey, e);
    return e;
  }
}

/** Hands out the best node for the next task of one service, and hears where it went. */
interface Picker {
  /** The best node that fits, or -1. */
  next(): number;
  /** The node `next()` returned took the task. */
  placed(n: number): void;
}

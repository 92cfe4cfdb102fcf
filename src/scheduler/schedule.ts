import type { NodeInfo, Service, Task } from '../model/types.js';

export interface ScheduleInput {
  /** Pending tasks to place. */
  tasks: Task[];
  nodes: NodeInfo[];
  /** Tasks already placed (for spread and host ports). */
  running: Task[];
  /** Services by id `project/name`. */
  services: Map<string, Service>;
}

export interface ScheduleResult {
  assignments: { taskId: string; node: string }[];
  unplaced: { taskId: string; reason: string }[];
}

interface Filter {
  /** Said of the nodes it rules out, as Swarm words it: "2 nodes <why>". */
  why: string;
  ok(node: NodeInfo, svc: Service, placed: Task[], services: Map<string, Service>, task: Task): boolean;
}

const FILTERS: Filter[] = [
  { why: 'were not the node this global task belongs to', ok: (n, _s, _p, _v, t) => !t.pin || t.pin === n.id },
  { why: 'not available for new tasks', ok: (n) => n.state === 'ready' && n.availability === 'active' },
  { why: 'lacked the driver', ok: (n, s) => n.drivers.includes(s.driver) },
  { why: 'did not satisfy the placement constraints', ok: (n, s) => (s.spec.deploy?.placement?.constraints ?? []).every((c) => constraintHolds(c, n)) },
  {
    why: 'already had max_replicas_per_node tasks of the service',
    ok: (n, s, placed) => {
      const max = s.spec.deploy?.placement?.max_replicas_per_node;
      return !max || placed.filter((t) => t.node === n.id && t.project === s.project && t.service === s.name).length < max;
    },
  },
  {
    why: 'had the host port in use',
    ok: (n, s, placed, services) => {
      const wanted = hostPorts(s);
      if (wanted.length === 0) return true;
      return !placed.some((t) => t.node === n.id && hostPorts(services.get(`${t.project}/${t.service}`)).some((p) => wanted.includes(p)));
    },
  },
];

/** Ports published in `mode: host` ("8080/tcp"): only one task may hold each on a node. */
function hostPorts(s: Service | undefined): string[] {
  return (s?.spec.ports ?? []).filter((p) => p.mode === 'host' && p.published).map((p) => `${p.published}/${p.protocol}`);
}

/** `node.labels.zone == a`, `node.role != manager`, `node.hostname == x`, `node.id == y`. */
export function constraintHolds(expr: string, n: NodeInfo): boolean {
  const m = /^\s*([\w.-]+)\s*(==|!=)\s*(.+?)\s*$/.exec(expr);
  if (!m) return false;
  const [, key, op, want] = m;
  let have: string | undefined;
  if (key === 'node.id') have = n.id;
  else if (key === 'node.hostname') have = n.hostname;
  else if (key === 'node.role') have = n.role;
  else if (key.startsWith('node.labels.')) have = n.labels[key.slice('node.labels.'.length)];
  else if (key.startsWith('engine.labels.')) have = n.labels[key.slice('engine.labels.'.length)];
  return op === '==' ? have === want : have !== want;
}

/**
 * Places pending tasks on nodes: every filter must pass, then the node with
 * the fewest tasks of the same service wins (spread), then the fewest tasks.
 * Pure: the same input always gives the same answer.
 */
export function schedule(input: ScheduleInput): ScheduleResult {
  const placed = [...input.running];
  const result: ScheduleResult = { assignments: [], unplaced: [] };
  const nodes = [...input.nodes].sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const t of input.tasks) {
    const svc = input.services.get(`${t.project}/${t.service}`);
    if (!svc) {
      result.unplaced.push({ taskId: t.id, reason: 'its service is gone' });
      continue;
    }
    const ruledOut = new Map<string, number>();
    const feasible = nodes.filter((n) => {
      const failed = FILTERS.find((f) => !f.ok(n, svc, placed, input.services, t));
      if (failed) ruledOut.set(failed.why, (ruledOut.get(failed.why) ?? 0) + 1);
      return !failed;
    });
    if (feasible.length === 0) {
      const parts = [...ruledOut].map(([why, count]) => `${count} node${count === 1 ? '' : 's'} ${why}`);
      result.unplaced.push({ taskId: t.id, reason: `no suitable node (${parts.join('; ') || 'no nodes'})` });
      continue;
    }
    const load = (n: NodeInfo): [number, number] => [
      placed.filter((p) => p.node === n.id && p.project === t.project && p.service === t.service).length,
      placed.filter((p) => p.node === n.id).length,
    ];
    feasible.sort((a, b) => {
      const [sa, ta] = load(a);
      const [sb, tb] = load(b);
      return sa - sb || ta - tb;
    });
    const chosen = feasible[0];
    result.assignments.push({ taskId: t.id, node: chosen.id });
    placed.push({ ...t, node: chosen.id });
  }
  return result;
}

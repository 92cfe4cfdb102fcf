// A brute-force scheduler that says the rules as plainly as possible, with no
// caching or heaps: every task looks at every node and recounts everything
// from the list of placed tasks. The real scheduler must give the same answer.
import type { NodeInfo, Service, Task } from '../../src/model/types.js';
import { parseCpus, parseMemory, type ScheduleInput, type ScheduleResult } from '../../src/scheduler/index.js';

const WHY = [
  'not available for new tasks',
  'lacked the driver',
  'did not satisfy the placement constraints',
  'had insufficient CPU',
  'had insufficient memory',
  'already had max_replicas_per_node tasks of the service',
  'had the host port in use',
];

function attr(key: string, n: NodeInfo): string | undefined {
  if (key === 'node.id') return n.id;
  if (key === 'node.hostname') return n.hostname;
  if (key === 'node.role') return n.role;
  const m = /^(node|engine)\.labels\.(.+)$/.exec(key);
  if (!m) return undefined;
  const labels = m[1] === 'node' ? n.labels : (n.engineLabels ?? {});
  return m[2] in labels ? labels[m[2]] : undefined;
}

function holds(expr: string, n: NodeInfo): boolean {
  const eq = expr.indexOf('==');
  const ne = expr.indexOf('!=');
  if (eq < 0 && ne < 0) return false;
  const at = eq >= 0 ? eq : ne;
  const key = expr.slice(0, at).trim();
  const want = expr.slice(at + 2).trim();
  if (!key || !want) return false;
  return eq >= 0 ? attr(key, n) === want : attr(key, n) !== want;
}

function ports(s: Service | undefined): string[] {
  const out: string[] = [];
  for (const p of s?.spec.ports ?? []) {
    if (p.mode !== 'host' || !p.published) continue;
    const [a, b] = String(p.published).split('-').map(Number);
    for (let x = a; x <= (b ?? a); x++) out.push(`${x}/${p.protocol}`);
  }
  return out;
}

export function referenceSchedule(input: ScheduleInput): ScheduleResult {
  const result: ScheduleResult = { assignments: [], unplaced: [] };
  const placed = input.running.filter((t) => t.node).map((t) => ({ node: t.node!, svc: `${t.project}/${t.service}` }));
  // Service by service in order of first appearance; pinned tasks first.
  const order: string[] = [];
  for (const t of input.tasks) if (!order.includes(`${t.project}/${t.service}`)) order.push(`${t.project}/${t.service}`);
  const queue: Task[] = [];
  for (const key of order) {
    const mine = input.tasks.filter((t) => `${t.project}/${t.service}` === key);
    queue.push(...mine.filter((t) => t.pin !== undefined), ...mine.filter((t) => t.pin === undefined));
  }
  for (const t of queue) {
    const key = `${t.project}/${t.service}`;
    const svc = input.services.get(key);
    if (!svc) {
      result.unplaced.push({ taskId: t.id, reason: 'its service is gone' });
      continue;
    }
    const deploy = svc.spec.deploy;
    const cpu = parseCpus(deploy?.resources?.reservations?.cpus);
    const mem = parseMemory(deploy?.resources?.reservations?.memory);
    const max = deploy?.placement?.max_replicas_per_node ?? 0;
    const want = ports(svc);
    const on = (n: NodeInfo) => placed.filter((p) => p.node === n.id);
    const failure = (n: NodeInfo): number => {
      if (n.state !== 'ready' || n.availability !== 'active') return 0;
      if (!n.drivers.includes(svc.driver)) return 1;
      if (!(deploy?.placement?.constraints ?? []).every((c) => holds(c, n))) return 2;
      const here = on(n);
      const used = (f: (s: Service) => number) => here.reduce((sum, p) => sum + (input.services.has(p.svc) ? f(input.services.get(p.svc)!) : 0), 0);
      if (cpu > 0 && used((s) => parseCpus(s.spec.deploy?.resources?.reservations?.cpus)) + cpu > Math.round(n.capacity.cpus * 1000)) return 3;
      if (mem > 0 && used((s) => parseMemory(s.spec.deploy?.resources?.reservations?.memory)) + mem > n.capacity.memoryBytes) return 4;
      if (max > 0 && here.filter((p) => p.svc === key).length >= max) return 5;
      if (here.some((p) => ports(input.services.get(p.svc)).some((x) => want.includes(x)))) return 6;
      return -1;
    };
    const candidates = t.pin !== undefined ? input.nodes.filter((n) => n.id === t.pin) : input.nodes;
    if (t.pin !== undefined && candidates.length === 0) {
      result.unplaced.push({ taskId: t.id, reason: `no suitable node (node ${t.pin} is not in the cluster)` });
      continue;
    }
    const feasible = candidates.filter((n) => failure(n) < 0);
    if (feasible.length === 0) {
      const counts = WHY.map((_, i) => candidates.filter((n) => failure(n) === i).length);
      const parts = counts.flatMap((c, i) => (c > 0 ? [`${c} node${c === 1 ? '' : 's'} ${WHY[i]}`] : []));
      result.unplaced.push({ taskId: t.id, reason: `no suitable node (${parts.join('; ') || 'no nodes'})` });
      continue;
    }
    const xb = svc.spec['x-baton']?.placement;
    const strategy = xb === 'binpack' || xb === 'spread' ? xb : (input.strategy ?? 'spread');
    const prefs = (deploy?.placement?.preferences ?? []).map((p) => p.spread);
    const scoreOf = (n: NodeInfo): number[] => {
      const score: number[] = [];
      // Tasks of the service in the node's group at each level of the preferences.
      for (let l = 0; l < prefs.length; l++) {
        const same = (m: NodeInfo) => prefs.slice(0, l + 1).every((k) => attr(k, m) === attr(k, n));
        score.push(placed.filter((p) => p.svc === key && input.nodes.some((m) => m.id === p.node && same(m))).length);
      }
      const total = on(n).length;
      if (strategy === 'binpack') score.push(-total);
      else score.push(on(n).filter((p) => p.svc === key).length, total);
      return score;
    };
    let best = feasible[0];
    let bestScore = scoreOf(best);
    for (const n of feasible.slice(1)) {
      const s = scoreOf(n);
      const d = s.findIndex((x, i) => x !== bestScore[i]);
      if ((d >= 0 && s[d] < bestScore[d]) || (d < 0 && n.id < best.id)) {
        best = n;
        bestScore = s;
      }
    }
    placed.push({ node: best.id, svc: key });
    result.assignments.push({ taskId: t.id, node: best.id });
  }
  return result;
}

import type { NodeInfo, Service } from '../model/types.js';

/** How a service's replicas are laid out once the filters pass. */
export type Strategy = 'spread' | 'binpack';

/** Reads one node attribute that constraints and spread preferences may name; undefined when the node has none. */
export type Attribute = (n: NodeInfo) => string | undefined;

/** `node.id`, `node.hostname`, `node.role`, `node.labels.X`, `engine.labels.X` (Swarm's names); undefined for any other key. */
export function attribute(key: string): Attribute | undefined {
  if (key === 'node.id') return (n) => n.id;
  if (key === 'node.hostname') return (n) => n.hostname;
  if (key === 'node.role') return (n) => n.role;
  // Node labels are the operator's (agent --label, node update); engine labels come from the node's container engine.
  const own = (o: Record<string, string> | undefined, label: string): string | undefined => (o && Object.prototype.hasOwnProperty.call(o, label) ? o[label] : undefined);
  if (key.startsWith('node.labels.') && key.length > 'node.labels.'.length) {
    const label = key.slice('node.labels.'.length);
    return (n) => own(n.labels, label);
  }
  if (key.startsWith('engine.labels.') && key.length > 'engine.labels.'.length) {
    const label = key.slice('engine.labels.'.length);
    return (n) => own(n.engineLabels, label);
  }
  return undefined;
}

/** A parsed constraint; a malformed one holds on no node, so a typo never places a task where it was not meant to go. */
export type Constraint = (n: NodeInfo) => boolean;

export function compileConstraint(expr: string): Constraint {
  const m = /^\s*([\w.-]+)\s*(==|!=)\s*(.+?)\s*$/.exec(expr);
  if (!m) return () => false;
  const [, key, op, want] = m;
  const get = attribute(key) ?? (() => undefined);
  return op === '==' ? (n) => get(n) === want : (n) => get(n) !== want;
}

/** `node.labels.zone == a`, `node.role != manager`, `node.hostname == x`, `node.id == y`. */
export function constraintHolds(expr: string, n: NodeInfo): boolean {
  return compileConstraint(expr)(n);
}

/** Compose `cpus` ("0.5", 2) in thousandths of a CPU, so sums stay exact integers; 0 when absent or unreadable. */
export function parseCpus(v: unknown): number {
  const x = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(x) && x > 0 ? Math.round(x * 1000) : 0;
}

const POWERS: Record<string, number> = { '': 0, k: 1, m: 2, g: 3, t: 4, p: 5 };

/** Compose memory ("512M", "1.5g", "64kb", "2GiB" or a number of bytes) in bytes, 1024-based as Docker reads it; 0 when absent or unreadable. */
export function parseMemory(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
  if (typeof v !== 'string') return 0;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$/i.exec(v);
  if (!m) return 0;
  return Math.floor(Number(m[1]) * 1024 ** POWERS[m[2].toLowerCase()]);
}

/** Host-mode published ports of a service ("8080/tcp"), ranges expanded: only one task may hold each on a node. */
export function hostPorts(s: Service | undefined): string[] {
  const out: string[] = [];
  for (const p of s?.spec.ports ?? []) {
    if (p.mode !== 'host' || !p.published) continue;
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(String(p.published));
    if (!m) {
      out.push(`${p.published}/${p.protocol}`);
      continue;
    }
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    for (let port = from; port <= to && port - from < 65536; port++) out.push(`${port}/${p.protocol}`);
  }
  return out;
}

/** The service's own choice in `x-baton: {placement: binpack|spread}`, read from the raw spec (no other part normalizes it). */
export function serviceStrategy(s: Service): Strategy | undefined {
  const x = s.spec['x-baton'];
  const p = x && typeof x === 'object' ? x.placement : undefined;
  return p === 'binpack' || p === 'spread' ? p : undefined;
}

/**
 * Why a node is ruled out, in the order the filters run (a node is counted
 * under the first one it fails). Said as Swarm says it: "2 nodes <why>".
 */
export const WHY = [
  'not available for new tasks',
  'lacked the driver',
  'did not satisfy the placement constraints',
  'had insufficient CPU',
  'had insufficient memory',
  'already had max_replicas_per_node tasks of the service',
  'had the host port in use',
] as const;

export const F_AVAILABILITY = 0;
export const F_DRIVER = 1;
export const F_CONSTRAINTS = 2;
export const F_CPU = 3;
export const F_MEMORY = 4;
export const F_MAX_REPLICAS = 5;
export const F_PORT = 6;
/** Filters that depend only on the node and the service, not on what is placed: computed once per service. */
export const STATIC_FILTERS = 3;

/** "no suitable node (2 nodes did not satisfy the placement constraints; 1 node had insufficient memory)". */
export function noSuitableNode(ruledOut: ArrayLike<number>): string {
  const parts: string[] = [];
  for (let f = 0; f < WHY.length; f++) {
    const count = ruledOut[f] ?? 0;
    if (count > 0) parts.push(`${count} node${count === 1 ? '' : 's'} ${WHY[f]}`);
  }
  return `no suitable node (${parts.join('; ') || 'no nodes'})`;
}

/** The first static filter `n` fails for a service with this driver and these constraints, or -1. */
export function staticFailure(n: NodeInfo, driver: string, constraints: Constraint[]): number {
  if (n.state !== 'ready' || n.availability !== 'active') return F_AVAILABILITY;
  if (!n.drivers.includes(driver)) return F_DRIVER;
  for (const c of constraints) if (!c(n)) return F_CONSTRAINTS;
  return -1;
}

/**
 * Nodes a task of `svc` could ever go to: ready and active, with its driver,
 * satisfying its placement constraints (not resources, ports or counts, which
 * change as tasks come and go). A global service runs one task on each.
 */
export function eligibleNodes(svc: Service, nodes: NodeInfo[]): NodeInfo[] {
  const constraints = (svc.spec.deploy?.placement?.constraints ?? []).map(compileConstraint);
  return nodes.filter((n) => staticFailure(n, svc.driver, constraints) < 0);
}

// `baton stack ...`, and the Swarm-style views of services and tasks that
// `stack` and `service` share. A stack is a baton project; its services are
// named `<stack>_<service>` and its tasks `<stack>_<service>.<slot>`, as Swarm names them.
import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import type { NodeInfo, Service, Task } from '../../model/types.js';
import { wantedSlots } from '../../model/task.js';
import type { ApiClient, DeployResult, ProjectStatus } from '../../api/index.js';
import { ApiRequestError } from '../../api/client.js';
import { fileSources } from '../../spec/sources.js';
import { ensureDaemon } from '../connect.js';
import { UserError } from '../errors.js';
import { capitalize, ellipsis, humanDuration, renderRows, type Column } from '../format.js';
import { load, collect } from '../project.js';
import { buildImages, deployCredentials, pullImages } from '../build.js';
import { waitReady } from './up.js';
import { withPositions } from '../positions.js';

/** What the daemon accepts as a project name (src/api/deploy.ts), said before any file is read. */
const STACK_NAME = /^[a-z0-9][a-z0-9_-]*$/;
/** Docker shows 12 characters of an id unless --no-trunc. */
const SHORT_ID = 12;
/** Docker's limit on the ERROR column unless --no-trunc. */
const MAX_ERROR = 30;


export const swarmName = (project: string, service: string): string => `${project}_${service}`;

/**
 * A Swarm-like id for a service: baton names services by project and name,
 * so this is derived from that and the creation time (stable while the
 * service exists, new if it is removed and made again).
 */
export function serviceId(s: Pick<Service, 'id' | 'createdAt'>): string {
  return createHash('sha256').update(`${s.id}\0${s.createdAt}`).digest('hex').slice(0, 25);
}

/** The image a service runs: its own, or the one its build: section makes (named as the daemon names it). */
export function imageOf(s: Service): string {
  return s.spec.image ?? (s.spec.build ? `${s.project}-${s.name}` : '');
}

/** Published ports as `docker service ls` shows them: *:8080->80/tcp. */
export function publishedPorts(s: Service): string {
  return s.ports
    .filter((p) => p.published !== undefined)
    .map((p) => `${!p.hostIp || p.hostIp === '0.0.0.0' ? '*' : p.hostIp}:${p.published}->${p.target}/${p.protocol}`)
    .join(', ');
}

/** A task that counts in REPLICAS: running, and healthy when there is a healthcheck (Swarm keeps such tasks "starting" until then). */
const counts = (t: Task): boolean => t.desiredState === 'running' && t.state === 'running' && (t.health === 'none' || t.health === 'healthy');

/** REPLICAS as "running/desired"; a global service wants one task per eligible node, which is what it has asked for. */
export function replicas(s: Service, tasks: Task[]): string {
  const mine = tasks.filter((t) => t.service === s.name);
  return `${mine.filter(counts).length}/${wantedSlots(s, mine).size}`;
}

export const SERVICE_COLUMNS: Column[] = [
  { field: 'ID', header: 'ID' },
  { field: 'Name', header: 'NAME' },
  { field: 'Mode', header: 'MODE' },
  { field: 'Replicas', header: 'REPLICAS' },
  { field: 'Image', header: 'IMAGE' },
  { field: 'Ports', header: 'PORTS' },
];

/** One line of `service ls` / `stack services`. */
export function serviceRow(s: Service, tasks: Task[]): Record<string, string> {
  return { ID: serviceId(s).slice(0, SHORT_ID), Name: swarmName(s.project, s.name), Mode: s.mode, Replicas: replicas(s, tasks), Image: imageOf(s), Ports: publishedPorts(s) };
}

export const TASK_COLUMNS: Column[] = [
  { field: 'ID', header: 'ID' },
  { field: 'Name', header: 'NAME' },
  { field: 'Image', header: 'IMAGE' },
  { field: 'Node', header: 'NODE' },
  { field: 'DesiredState', header: 'DESIRED STATE' },
  { field: 'CurrentState', header: 'CURRENT STATE' },
  { field: 'Error', header: 'ERROR' },
  { field: 'Ports', header: 'PORTS' },
];


/** Swarm keeps a task with a healthcheck "starting" until it is healthy; baton says running with health starting. */
function stateWord(t: Task): string {
  return t.state === 'running' && t.health === 'starting' ? 'Starting' : capitalize(t.state);
}

/** When the task entered its current state. */
function stateSince(t: Task): string {
  if (t.state === 'running') return t.startedAt ?? t.updatedAt;
  return t.finishedAt ?? t.updatedAt;
}

/** Swarm names a replicated task by slot and a global one by its node. */
export function taskName(s: Service, t: Task): string {
  return `${swarmName(s.project, s.name)}.${s.mode === 'global' && t.pin ? t.pin : t.slot}`;
}

export interface TaskListOptions {
  /** Full ids and errors. */
  noTrunc?: boolean;
  /** Node ids instead of hostnames. */
  noResolve?: boolean;
  /** Older tasks of a slot get a ` \_ ` before their name (tables only, as docker does). */
  indent?: boolean;
  now?: number;
}

/**
 * The lines of `stack ps` / `service ps`: every task of these services, the
 * tasks of one slot together, newest first.
 */
export function taskRows(services: Service[], tasks: Task[], nodes: NodeInfo[], opts: TaskListOptions = {}): { task: Task; row: Record<string, string> }[] {
  const now = opts.now ?? Date.now();
  const byName = new Map(services.map((s) => [`${s.project}/${s.name}`, s]));
  const hostOf = new Map(nodes.map((n) => [n.id, n.hostname]));
  const listed = tasks
    .map((t) => ({ t, s: byName.get(`${t.project}/${t.service}`) }))
    .filter((x): x is { t: Task; s: Service } => x.s !== undefined)
    .map((x) => ({ ...x, name: taskName(x.s, x.t) }));
  listed.sort((a, b) => naturalCompare(a.name, b.name) || b.t.createdAt.localeCompare(a.t.createdAt) || b.t.revision - a.t.revision);
  let prev = '';
  return listed.map(({ t, s, name }) => {
    const older = name === prev;
    prev = name;
    const err = t.error ?? (t.state === 'pending' ? t.message : undefined) ?? '';
    const shownErr = opts.noTrunc ? err : ellipsis(err, MAX_ERROR);
    const live = ['assigned', 'preparing', 'starting', 'running'].includes(t.state);
    return {
      task: t,
      row: {
        ID: opts.noTrunc ? t.id : t.id.slice(0, SHORT_ID),
        Name: older && opts.indent ? ` \\_ ${name}` : name,
        Image: imageOf(s),
        Node: t.node ? (opts.noResolve ? t.node : hostOf.get(t.node) ?? t.node) : '',
        DesiredState: capitalize(t.desiredState),
        CurrentState: `${stateWord(t)} ${humanDuration(now - Date.parse(stateSince(t)))} ago`,
        Error: shownErr ? `"${shownErr}"` : '',
        Ports: live ? t.ports.map((p) => `${!p.hostIp || p.hostIp === '0.0.0.0' ? '*' : p.hostIp}:${p.hostPort}->${p.target}/${p.protocol}`).join(',') : '',
      },
    };
  });
}

/** "web.2" before "web.10", as docker's natural sort orders them. */
export function naturalCompare(a: string, b: string): number {
  const pa = a.split(/(\d+)/);
  const pb = b.split(/(\d+)/);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    const na = /^\d+$/.test(pa[i]) && /^\d+$/.test(pb[i]);
    if (na) return Number(pa[i]) - Number(pb[i]);
    return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** `--filter KEY=VALUE` flags: values of one key are alternatives, different keys must all match. */
export function parseFilters(given: string[] | undefined, allowed: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of given ?? []) {
    const i = f.indexOf('=');
    const key = i > 0 ? f.slice(0, i) : '';
    if (!allowed.includes(key)) throw new UserError(`--filter: expected KEY=VALUE with KEY one of ${allowed.join(', ')}, got "${f}"`);
    out.set(key, [...(out.get(key) ?? []), f.slice(i + 1)]);
  }
  return out;
}

const TASK_FILTERS = ['id', 'name', 'node', 'desired-state'] as const;
const SERVICE_FILTERS = ['id', 'name', 'mode'] as const;

function matches(filters: Map<string, string[]>, test: (key: string, value: string) => boolean): boolean {
  return [...filters].every(([k, values]) => values.some((v) => test(k, v)));
}

/** Docker's task filters: id and name by prefix or part, node by hostname or id, desired-state (accepted means running here). */
export function taskFilter(given: string[] | undefined): (r: { task: Task; row: Record<string, string> }) => boolean {
  const filters = parseFilters(given, TASK_FILTERS);
  for (const v of filters.get('desired-state') ?? []) {
    if (!['running', 'shutdown', 'accepted'].includes(v)) throw new UserError(`--filter desired-state: expected running, shutdown or accepted, got "${v}"`);
  }
  return ({ task, row }) =>
    matches(filters, (k, v) => {
      if (k === 'id') return task.id.startsWith(v);
      if (k === 'name') return row.Name.includes(v);
      if (k === 'node') return task.node === v || row.Node === v;
      return task.desiredState === (v === 'accepted' ? 'running' : v);
    });
}

/** Docker's service filters: id and name by prefix, mode exactly. */
export function serviceFilter(given: string[] | undefined): (s: Service) => boolean {
  const filters = parseFilters(given, SERVICE_FILTERS);
  return (s) =>
    matches(filters, (k, v) => {
      if (k === 'id') return serviceId(s).startsWith(v);
      if (k === 'name') return swarmName(s.project, s.name).startsWith(v);
      return s.mode === v;
    });
}

/** A project's status with every task (history too), or undefined when there is no such project. */
export async function stackStatus(client: ApiClient, stack: string): Promise<ProjectStatus | undefined> {
  try {
    return await client.status(stack, true);
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 404) return undefined;
    throw err;
  }
}

export interface ListFlags {
  format?: string;
  quiet?: boolean;
  filter?: string[];
  noTrunc?: boolean;
  resolve?: boolean;
}

/** Prints tasks as `stack ps` / `service ps` do. */
export function printTasks(services: Service[], tasks: Task[], nodes: NodeInfo[], f: ListFlags): void {
  const keep = taskFilter(f.filter);
  const tableFormat = f.format === undefined || f.format === 'table' || f.format.startsWith('table ');
  const rows = taskRows(services, tasks, nodes, { noTrunc: f.noTrunc, noResolve: f.resolve === false, indent: tableFormat }).filter(keep);
  if (f.quiet) process.stdout.write(rows.map((r) => r.row.ID + '\n').join(''));
  else process.stdout.write(renderRows(f.format, TASK_COLUMNS, rows.map((r) => r.row)));
}

/** Prints services as `service ls` / `stack services` do, in name order. */
export function printServices(statuses: ProjectStatus[], f: ListFlags): void {
  const keep = serviceFilter(f.filter);
  const all = statuses.flatMap((st) => st.services.filter(keep).map((s) => ({ s, row: serviceRow(s, st.tasks) })));
  all.sort((a, b) => naturalCompare(a.row.Name, b.row.Name));
  if (f.quiet) process.stdout.write(all.map((x) => x.row.ID + '\n').join(''));
  else process.stdout.write(renderRows(f.format, SERVICE_COLUMNS, all.map((x) => x.row)));
}

/** Prints what a stack deploy did, in docker's words (networks, secrets and configs are not listed). */
function printStackDeploy(stack: string, r: DeployResult, st: ProjectStatus): void {
  for (const w of r.warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
  const ids = new Map(st.services.map((s) => [s.name, serviceId(s)]));
  for (const n of [...r.removed].sort()) process.stdout.write(`Removing service ${swarmName(stack, n)}\n`);
  const lines = [
    ...r.created.map((n) => ({ n, text: `Creating service ${swarmName(stack, n)}` })),
    ...[...r.updated, ...r.unchanged].map((n) => ({ n, text: `Updating service ${swarmName(stack, n)} (id: ${ids.get(n) ?? '?'})` })),
  ];
  lines.sort((a, b) => naturalCompare(a.n, b.n));
  for (const l of lines) process.stdout.write(l.text + '\n');
}

interface DeployFlags {
  composeFile: string[];
  prune?: boolean;
  detach?: boolean;
  withRegistryAuth?: boolean;
}

export function stackCommands(program: Command): void {
  const stack = program.command('stack').description('Manage stacks: Compose projects deployed as Swarm does (stack deploy, ls, ps, services, rm)');

  stack
    .command('deploy <stack>')
    .alias('up')
    .description('Deploy a new stack or update an existing one from Compose files, without following its logs')
    .requiredOption('-c, --compose-file <file>', 'Compose file (repeatable; later files override earlier ones)', collect)
    .option('--prune', 'remove services of the stack that are no longer in the files (without it they keep running)')
    .option('-d, --detach', 'return once deployed (the default)')
    .option('--no-detach', 'wait until every service runs, and is healthy when it has a healthcheck')
    .option('--with-registry-auth', 'send your registry logins with the deploy, so the nodes that run its tasks can pull private images')
    .action(async (name: string, f: DeployFlags) => {
      if (!STACK_NAME.test(name)) throw new UserError(`invalid stack name "${name}": use lowercase letters, digits, "_" and "-", starting with a letter or digit`);
      const project = await load({ file: f.composeFile, projectName: name });
      const client = await ensureDaemon();
      // As `up`: images of build: sections that are not there yet are built, missing ones pulled, before the deploy checks them.
      const toBuild = Object.values(project.services).filter((s) => s.build).map((s) => s.name);
      if (toBuild.length > 0) await buildImages(client, project, toBuild, false);
      const toPull = Object.values(project.services).filter((s) => s.image && !s.build).map((s) => s.name);
      if (toPull.length > 0) await pullImages(client, project, toPull, true);
      const result = await client.deploy(project, f.prune === true, fileSources(project), f.withRegistryAuth ? deployCredentials(project) : undefined).catch((err: unknown) => {
        throw err instanceof ApiRequestError ? withPositions(err, project) : err;
      });
      printStackDeploy(name, result, await client.status(name));
      if (f.detach === false) await waitReady(client, name, Number.POSITIVE_INFINITY);
    });

  stack
    .command('ls')
    .alias('list')
    .description('List stacks')
    .option('--format <format>', 'table, json, or a template such as "{{.Name}}: {{.Services}}"')
    .action(async (f: ListFlags) => {
      const client = await ensureDaemon();
      const rows = (await client.projects())
        .map((p) => ({ Name: p.name, Services: String(p.services) }))
        .sort((a, b) => naturalCompare(a.Name, b.Name));
      process.stdout.write(renderRows(f.format, [{ field: 'Name', header: 'NAME' }, { field: 'Services', header: 'SERVICES' }], rows));
    });

  stack
    .command('ps <stack>')
    .description('List the tasks in the stack, older tasks of a slot under the newest')
    .option('-f, --filter <filter>', 'KEY=VALUE, KEY one of id, name, node, desired-state (repeatable)', collect)
    .option('--format <format>', 'table, json, or a template such as "{{.Name}} {{.CurrentState}}"')
    .option('--no-trunc', 'do not truncate ids and errors')
    .option('--no-resolve', 'show node ids instead of hostnames')
    .option('-q, --quiet', 'only task ids')
    .action(async (name: string, f: ListFlags & { trunc: boolean }) => {
      const client = await ensureDaemon();
      const st = await stackStatus(client, name);
      if (!st || st.tasks.length === 0) throw new UserError(`nothing found in stack: ${name}`);
      printTasks(st.services, st.tasks, await client.nodes(), { ...f, noTrunc: !f.trunc });
    });

  stack
    .command('services <stack>')
    .description('List the services in the stack (an unknown stack says so on stderr and exits 0, as docker does)')
    .option('-f, --filter <filter>', 'KEY=VALUE, KEY one of id, name, mode (repeatable)', collect)
    .option('--format <format>', 'table, json, or a template such as "{{.Name}} {{.Replicas}}"')
    .option('-q, --quiet', 'only service ids')
    .action(async (name: string, f: ListFlags) => {
      const client = await ensureDaemon();
      const st = await stackStatus(client, name);
      if (!st || st.services.length === 0) {
        process.stderr.write(`Nothing found in stack: ${name}\n`);
        return;
      }
      printServices([st], f);
    });

  stack
    .command('rm <stack...>')
    .aliases(['remove', 'down'])
    .description('Remove stacks: their services stop and are removed; named volumes are kept (an unknown stack says so on stderr)')
    .action(async (names: string[]) => {
      const client = await ensureDaemon();
      for (const name of names) {
        let removed: string[];
        try {
          removed = (await client.down(name, { volumes: false })).removed;
        } catch (err) {
          if (!(err instanceof ApiRequestError && err.status === 404)) throw err;
          process.stderr.write(`Nothing found in stack: ${name}\n`);
          continue;
        }
        for (const s of [...removed].sort()) process.stdout.write(`Removing service ${swarmName(name, s)}\n`);
      }
    });
}

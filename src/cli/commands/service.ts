import type { Command } from 'commander';
import type { UpdateConfig } from '../../spec/types.js';
import type { NodeInfo, Service, Task, UpdatePolicy } from '../../model/types.js';
import type { ApiClient, LogEntry, ProjectStatus, ServiceUpdateRequest } from '../../api/index.js';
import { ensureDaemon } from '../connect.js';
import { UserError } from '../errors.js';
import { ago, goDuration, table } from '../format.js';
import { projectFlags, projectName, projectOptions, type ProjectFlags, collect } from '../project.js';
import { waitReady } from './up.js';
import { imageOf, printServices, printTasks, serviceId, stackStatus, swarmName, type ListFlags } from './stack.js';
import { shellSplit } from '../../spec/shell.js';

interface UpdateFlags extends ProjectFlags {
  image?: string;
  envAdd?: string[];
  envRm?: string[];
  args?: string;
  replicas?: string;
  force?: boolean;
  updateParallelism?: string;
  updateDelay?: string;
  updateOrder?: string;
  updateFailureAction?: string;
  updateMonitor?: string;
  updateMaxFailureRatio?: string;
  detach?: boolean;
  timeout?: string;
}


function whole(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UserError(`${flag}: expected a whole number, got "${v}"`);
  return Number(v);
}

function oneOf<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UserError(`${flag}: expected ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

/** The `--update-*` flags as a partial update_config, as `docker service update` takes them. */
function updateConfigFlags(f: UpdateFlags): UpdateConfig | undefined {
  const u: UpdateConfig = {};
  const parallelism = whole('--update-parallelism', f.updateParallelism);
  if (parallelism !== undefined) u.parallelism = parallelism;
  if (f.updateDelay !== undefined) u.delay = f.updateDelay;
  if (f.updateMonitor !== undefined) u.monitor = f.updateMonitor;
  const order = oneOf('--update-order', f.updateOrder, ['start-first', 'stop-first'] as const);
  if (order) u.order = order;
  const action = oneOf('--update-failure-action', f.updateFailureAction, ['pause', 'continue', 'rollback'] as const);
  if (action) u.failure_action = action;
  if (f.updateMaxFailureRatio !== undefined) {
    const r = Number(f.updateMaxFailureRatio);
    if (!(r >= 0 && r <= 1)) throw new UserError(`--update-max-failure-ratio: expected a number from 0 to 1, got "${f.updateMaxFailureRatio}"`);
    u.max_failure_ratio = r;
  }
  return Object.keys(u).length > 0 ? u : undefined;
}

/** A service a command named, with its project's status (every task, history too). */
export interface FoundService {
  project: string;
  service: Service;
  status: ProjectStatus;
}

/**
 * The ways `<stack>_<service>` can be split into a project that exists and a
 * service name: names may hold "_" themselves, so every "_" is a candidate.
 */
export function nameCandidates(arg: string, projects: readonly string[]): { project: string; service: string }[] {
  const out: { project: string; service: string }[] = [];
  for (let i = arg.indexOf('_'); i > 0; i = arg.indexOf('_', i + 1)) {
    const project = arg.slice(0, i);
    if (projects.includes(project) && i + 1 < arg.length) out.push({ project, service: arg.slice(i + 1) });
  }
  return out;
}

/**
 * Finds the services that SERVICE arguments name, as Swarm does by name or
 * id: `<stack>_<service>` (as `service ls` lists it), a bare name in the
 * current project (-p, or the Compose files here), or an id or its prefix.
 * Each project's status is read once per command.
 */
export class ServiceFinder {
  private names?: Promise<string[]>;
  private readonly statuses = new Map<string, Promise<ProjectStatus | undefined>>();
  private current?: Promise<string | undefined>;

  constructor(private readonly client: ApiClient, private readonly flags: ProjectFlags) {}

  status(project: string): Promise<ProjectStatus | undefined> {
    let st = this.statuses.get(project);
    if (!st) this.statuses.set(project, (st = stackStatus(this.client, project)));
    return st;
  }

  /** Every project's status, in name order. */
  async all(): Promise<ProjectStatus[]> {
    const names = await this.projectNames();
    return (await Promise.all(names.map((n) => this.status(n)))).filter((s): s is ProjectStatus => s !== undefined);
  }

  async find(arg: string): Promise<FoundService | undefined> {
    const byName: FoundService[] = [];
    for (const c of nameCandidates(arg, await this.projectNames())) {
      const f = await this.lookup(c.project, c.service);
      if (f) byName.push(f);
    }
    if (byName.length > 1) throw new UserError(`service name "${arg}" is ambiguous: ${byName.map((f) => `service "${f.service.name}" of stack "${f.project}"`).join(', ')}`);
    if (byName.length === 1) return byName[0];
    const current = await this.currentProject();
    const here = current === undefined ? undefined : await this.lookup(current, arg);
    if (here) return here;
    if (!/^[0-9a-f]+$/.test(arg)) return undefined;
    const byId = (await this.all()).flatMap((st) => st.services.filter((s) => serviceId(s).startsWith(arg)).map((service) => ({ project: st.project, service, status: st })));
    if (byId.length > 1) throw new UserError(`service id prefix "${arg}" is ambiguous: ${byId.map((f) => swarmName(f.project, f.service.name)).join(', ')}`);
    return byId[0];
  }

  async resolve(arg: string): Promise<FoundService> {
    const f = await this.find(arg);
    if (!f) throw new UserError(`no such service: ${arg}`);
    return f;
  }

  private projectNames(): Promise<string[]> {
    this.names ??= this.client.projects().then((ps) => ps.map((p) => p.name).sort());
    return this.names;
  }

  private async lookup(project: string, name: string): Promise<FoundService | undefined> {
    const status = await this.status(project);
    const service = status?.services.find((s) => s.name === name);
    return status && service ? { project, service, status } : undefined;
  }

  /** The project a bare name belongs to; none when neither -p nor Compose files here say (a bare name then matches nothing). */
  private currentProject(): Promise<string | undefined> {
    this.current ??= projectName(this.flags).catch(() => undefined);
    return this.current;
  }
}

/** The tasks of these services, each project's once. */
function tasksOf(found: FoundService[]): { services: Service[]; tasks: Task[] } {
  const seen = new Set<string>();
  const services: Service[] = [];
  for (const f of found) {
    if (seen.has(f.service.id)) continue;
    seen.add(f.service.id);
    services.push(f.service);
  }
  const tasks = found.flatMap((f) => f.status.tasks.filter((t) => t.service === f.service.name));
  return { services, tasks: [...new Map(tasks.map((t) => [t.id, t])).values()] };
}

const ns = (ms: number): number => ms * 1_000_000;

function policyJson(p: UpdatePolicy): Record<string, unknown> {
  return { Parallelism: p.parallelism, Delay: ns(p.delayMs), FailureAction: p.failureAction, Monitor: ns(p.monitorMs), MaxFailureRatio: p.maxFailureRatio, Order: p.order };
}

/** `service inspect`: docker's shape (Spec, Endpoint, UpdateStatus), durations in nanoseconds, and what is baton's own under "Baton". */
export function inspectView(s: Service): Record<string, unknown> {
  const c = s.spec;
  const env = Object.entries(c.environment ?? {}).map(([k, v]) => (v === null ? k : `${k}=${v}`));
  const ports = s.ports.filter((p) => p.published !== undefined).map((p) => ({ Protocol: p.protocol, TargetPort: p.target, PublishedPort: p.published, PublishMode: 'ingress' }));
  const endpointSpec = { Mode: c.deploy?.endpoint_mode ?? 'vip', ...(ports.length ? { Ports: ports } : {}) };
  const hc = s.healthcheck;
  const containerSpec: Record<string, unknown> = {
    // A process service has no image.
    ...(imageOf(s) ? { Image: imageOf(s) } : {}),
    Labels: c.labels ?? {},
    ...(c.entrypoint ? { Command: c.entrypoint } : {}),
    ...(c.command ? { Args: c.command } : {}),
    ...(c.hostname ? { Hostname: c.hostname } : {}),
    ...(env.length ? { Env: env } : {}),
    ...(c.working_dir ? { Dir: c.working_dir } : {}),
    ...(c.user ? { User: c.user } : {}),
    StopSignal: s.stopSignal,
    StopGracePeriod: ns(s.stopGraceMs),
    ...(hc
      ? { Healthcheck: { Test: hc.test.kind === 'exec' ? ['CMD', ...hc.test.argv] : ['CMD-SHELL', hc.test.command], Interval: ns(hc.intervalMs), Timeout: ns(hc.timeoutMs), Retries: hc.retries, StartPeriod: ns(hc.startPeriodMs), StartInterval: ns(hc.startIntervalMs) } }
      : {}),
    ...(s.files.length ? { Secrets: s.files.filter((f) => f.kind === 'secret').map((f) => ({ SecretName: f.source, File: { Name: f.target } })), Configs: s.files.filter((f) => f.kind === 'config').map((f) => ({ ConfigName: f.source, File: { Name: f.target } })) } : {}),
  };
  const placement = c.deploy?.placement;
  const restartCondition = s.restart.condition;
  return {
    ID: serviceId(s),
    Version: { Index: s.revision },
    CreatedAt: s.createdAt,
    UpdatedAt: s.updatedAt,
    Spec: {
      Name: swarmName(s.project, s.name),
      Labels: { ...(c.deploy?.labels ?? {}), 'com.docker.stack.namespace': s.project, ...(imageOf(s) ? { 'com.docker.stack.image': imageOf(s) } : {}) },
      TaskTemplate: {
        ContainerSpec: containerSpec,
        RestartPolicy: { Condition: restartCondition, Delay: ns(s.restart.delayMs), MaxAttempts: s.restart.maxAttempts, ...(s.restart.windowMs ? { Window: ns(s.restart.windowMs) } : {}) },
        Placement: { ...(placement?.constraints ? { Constraints: placement.constraints } : {}), ...(placement?.preferences ? { Preferences: placement.preferences.map((p) => ({ Spread: { SpreadDescriptor: p.spread } })) } : {}), ...(placement?.max_replicas_per_node ? { MaxReplicas: placement.max_replicas_per_node } : {}) },
        ForceUpdate: s.forceUpdate,
        Runtime: s.driver === 'docker' ? 'container' : s.driver,
      },
      Mode: s.mode === 'global' ? { Global: {} } : { Replicated: { Replicas: s.replicas } },
      UpdateConfig: policyJson(s.update),
      RollbackConfig: policyJson(s.rollback),
      EndpointSpec: endpointSpec,
    },
    Endpoint: { Spec: endpointSpec, ...(ports.length ? { Ports: ports } : {}) },
    ...(s.updateStatus ? { UpdateStatus: { State: s.updateStatus.state, StartedAt: s.updateStatus.startedAt, ...(s.updateStatus.completedAt ? { CompletedAt: s.updateStatus.completedAt } : {}), Message: s.updateStatus.message } } : {}),
    Baton: {
      Project: s.project,
      Service: s.name,
      Driver: s.driver,
      Stopped: s.stopped,
      SpecHash: s.specHash,
      WorkingDir: s.workingDir,
      VirtualPorts: s.ports.map((p) => ({ Protocol: p.protocol, TargetPort: p.target, LoopbackPort: p.vipPort })),
      ...(s.ingress ? { Ingress: s.ingress } : {}),
      Compose: c,
    },
  };
}

/** `service inspect --pretty`, laid out as docker's. */
export function prettyInspect(s: Service): string {
  const c = s.spec;
  const out: string[] = [];
  const kv = (k: string, v: string | number, indent = ''): void => void out.push(`${indent}${`${k}:`.padEnd(indent ? 19 : 20)}${v}`);
  kv('ID', serviceId(s));
  kv('Name', swarmName(s.project, s.name));
  const labels = { ...(c.deploy?.labels ?? {}), 'com.docker.stack.namespace': s.project };
  out.push('Labels:', ...Object.entries(labels).map(([k, v]) => ` - ${k}=${v}`));
  if (s.mode === 'global') kv('Service Mode', 'Global');
  else {
    kv('Service Mode', 'Replicated');
    kv('Replicas', s.replicas, ' ');
  }
  if (s.stopped) kv('Stopped', 'yes (baton start resumes it)');
  if (s.updateStatus) {
    out.push('UpdateStatus:');
    kv('State', s.updateStatus.state, ' ');
    kv('Started', `${ago(s.updateStatus.startedAt)} ago`, ' ');
    if (s.updateStatus.completedAt) kv('Completed', `${ago(s.updateStatus.completedAt)} ago`, ' ');
    kv('Message', s.updateStatus.message, ' ');
  }
  out.push('Placement:');
  const pl = c.deploy?.placement;
  if (pl?.constraints?.length) kv('Constraints', `[${pl.constraints.join(' ')}]`, ' ');
  if (pl?.preferences?.length) kv('Preferences', pl.preferences.map((p) => `spread=${p.spread}`).join(', '), ' ');
  if (pl?.max_replicas_per_node) kv('Max Replicas Per Node', pl.max_replicas_per_node, ' ');
  for (const [title, p] of [['UpdateConfig', s.update], ['RollbackConfig', s.rollback]] as const) {
    out.push(`${title}:`);
    kv('Parallelism', p.parallelism, ' ');
    if (p.delayMs) kv('Delay', goDuration(p.delayMs), ' ');
    kv('On failure', p.failureAction, ' ');
    kv('Monitoring Period', goDuration(p.monitorMs), ' ');
    kv('Max failure ratio', p.maxFailureRatio, ' ');
    kv('Update order', p.order, ' ');
  }
  out.push('ContainerSpec:');
  kv('Image', imageOf(s) || '(none: a host process)', ' ');
  if (c.entrypoint) kv('Command', c.entrypoint.join(' '), ' ');
  if (c.command) kv('Args', c.command.join(' '), ' ');
  const env = Object.entries(c.environment ?? {}).map(([k, v]) => (v === null ? k : `${k}=${v}`));
  if (env.length) kv('Env', env.join(' '), ' ');
  if (c.working_dir) kv('Dir', c.working_dir, ' ');
  if (c.user) kv('User', c.user, ' ');
  kv('Driver', s.driver, ' ');
  const res = c.deploy?.resources;
  out.push('Resources:');
  for (const [title, r] of [['Reservations', res?.reservations], ['Limits', res?.limits]] as const) {
    if (!r) continue;
    out.push(` ${title}:`);
    if (r.cpus !== undefined) kv('CPU', String(r.cpus), '  ');
    if (r.memory !== undefined) kv('Memory', r.memory, '  ');
  }
  const nets = Object.keys(c.networks ?? {});
  if (nets.length) kv('Networks', nets.join(' '));
  kv('Endpoint Mode', c.deploy?.endpoint_mode ?? 'vip');
  const published = s.ports.filter((p) => p.published !== undefined);
  if (published.length) {
    out.push('Ports:');
    for (const p of published) out.push(` PublishedPort = ${p.published}`, `  Protocol = ${p.protocol}`, `  TargetPort = ${p.target}`, '  PublishMode = ingress');
  }
  if (s.ingress) kv('Domains', `${s.ingress.domains.join(', ')}${s.ingress.path !== '/' ? ` (path ${s.ingress.path})` : ''}`);
  return out.join('\n') + '\n';
}

/** Counted in "overall progress": running, and healthy when there is a healthcheck. */
const ready = (t: Task): boolean => t.desiredState === 'running' && t.state === 'running' && (t.health === 'none' || t.health === 'healthy');
const ending = (t: Task): boolean => t.desiredState === 'shutdown' && ['assigned', 'preparing', 'starting', 'running'].includes(t.state);

/** Waits, as `docker service scale` does without -d, until a service runs exactly its replicas. */
async function converge(client: ApiClient, project: string, name: string, shown: string): Promise<void> {
  let rev: number | undefined;
  let last = '';
  for (;;) {
    const st = await client.status(project, false, rev);
    rev = st.revision;
    const svc = st.services.find((s) => s.name === name);
    if (!svc) throw new UserError(`${shown}: the service was removed while scaling`);
    const mine = st.tasks.filter((t) => t.service === name);
    const want = svc.stopped ? 0 : svc.replicas;
    const line = `overall progress: ${mine.filter(ready).length} out of ${want} tasks`;
    if (line !== last) process.stdout.write(line + '\n');
    last = line;
    if (mine.filter(ready).length === want && !mine.some(ending)) {
      process.stdout.write(`verify: Service ${shown} converged\n`);
      return;
    }
  }
}

interface LogFlags extends ProjectFlags {
  follow?: boolean;
  tail: string;
  timestamps?: boolean;
  taskIds: boolean;
  raw?: boolean;
}

/** Prints log entries as `docker service logs` does: "web.1.<task>@<node>    | line". */
function serviceLogPrinter(found: FoundService, nodes: NodeInfo[], f: LogFlags, onlyTask?: string): (e: LogEntry) => void {
  const hostOf = new Map(nodes.map((n) => [n.id, n.hostname]));
  const nodeOfTask = new Map(found.status.tasks.map((t) => [t.id, t.node]));
  // One node (a single daemon) is the node of every task, also of those started while following.
  const only = nodes.length === 1 ? nodes[0].hostname : '';
  const digits = String(Math.max(found.service.replicas, ...found.status.tasks.filter((t) => t.service === found.service.name).map((t) => t.slot))).length;
  const name = swarmName(found.project, found.service.name);
  return (e) => {
    if (onlyTask && e.task !== onlyTask) return;
    const time = f.timestamps ? `${e.time} ` : '';
    if (f.raw) {
      process.stdout.write(`${time}${e.line}\n`);
      return;
    }
    const node = nodeOfTask.get(e.task);
    const host = node ? hostOf.get(node) ?? node : only;
    const pad = ' '.repeat(Math.max(0, digits - String(e.slot).length));
    process.stdout.write(`${time}${name}.${e.slot}${f.taskIds ? `.${e.task}` : ''}@${host}${pad}    | ${e.line}\n`);
  };
}

/** `baton service ...`: Swarm's service commands over every project's services. */
export function serviceCommands(program: Command): void {
  const service = program
    .command('service')
    .description('Manage services of every stack: ls, ps, inspect, scale, logs, update, rollback, history (SERVICE is STACK_SERVICE, or a service of this project)');

  service
    .command('ls')
    .alias('list')
    .description('List the services of every stack, named STACK_SERVICE')
    .option('-f, --filter <filter>', 'KEY=VALUE, KEY one of id, name, mode (repeatable)', collect)
    .option('--format <format>', 'table, json, or a template such as "{{.Name}} {{.Replicas}}"')
    .option('-q, --quiet', 'only service ids')
    .action(async (f: ListFlags) => {
      const client = await ensureDaemon();
      printServices(await new ServiceFinder(client, {}).all(), f);
    });

  projectOptions(
    service
      .command('ps <service...>')
      .description('List the tasks of services, older tasks of a slot under the newest')
      .option('-f, --filter <filter>', 'KEY=VALUE, KEY one of id, name, node, desired-state (repeatable)', collect)
      .option('--format <format>', 'table, json, or a template such as "{{.Name}} {{.CurrentState}}"')
      .option('--no-trunc', 'do not truncate ids and errors')
      .option('--no-resolve', 'show node ids instead of hostnames')
      .option('-q, --quiet', 'only task ids'),
    { shortFile: false },
  ).action(async (names: string[], _o: unknown, cmd: Command) => {
    const f = projectFlags<ProjectFlags & ListFlags & { trunc: boolean }>(cmd);
    const client = await ensureDaemon();
    const finder = new ServiceFinder(client, f);
    const found = await Promise.all(names.map((n) => finder.resolve(n)));
    const { services, tasks } = tasksOf(found);
    printTasks(services, tasks, await client.nodes(), { ...f, noTrunc: !f.trunc });
  });

  projectOptions(
    service
      .command('inspect <service...>')
      .description('Show services in detail: a JSON array shaped as docker\'s (durations in nanoseconds), or --pretty')
      .option('--pretty', 'print the information in a human friendly format'),
    { shortFile: false },
  ).action(async (names: string[], _o: unknown, cmd: Command) => {
    const f = projectFlags<ProjectFlags & { pretty?: boolean }>(cmd);
    const finder = new ServiceFinder(await ensureDaemon(), f);
    const found: FoundService[] = [];
    const missing: string[] = [];
    for (const n of names) {
      const x = await finder.find(n);
      if (x) found.push(x);
      else missing.push(n);
    }
    // As docker: what was found is printed, then the names that were not are an error.
    if (f.pretty) process.stdout.write(found.map((x) => prettyInspect(x.service)).join('\n'));
    else process.stdout.write(JSON.stringify(found.map((x) => inspectView(x.service)), null, 4) + '\n');
    if (missing.length > 0) throw new UserError(missing.map((n) => `no such service: ${n}`).join('\n'));
  });

  projectOptions(
    service
      .command('scale <service=replicas...>')
      .description('Scale replicated services, then wait until they run that many tasks')
      .option('-d, --detach', 'return at once instead of waiting for the services to converge'),
  ).action(async (pairs: string[], _o: unknown, cmd: Command) => {
    const f = projectFlags<ProjectFlags & { detach?: boolean }>(cmd);
    const client = await ensureDaemon();
    const finder = new ServiceFinder(client, f);
    const errors: string[] = [];
    const scaled: { found: FoundService; shown: string }[] = [];
    for (const pair of pairs) {
      const m = /^(.+)=(\d+)$/.exec(pair);
      if (!m) {
        errors.push(`invalid scale specifier "${pair}": expected SERVICE=REPLICAS`);
        continue;
      }
      const found = await finder.find(m[1]);
      if (!found) {
        errors.push(`no such service: ${m[1]}`);
        continue;
      }
      const shown = swarmName(found.project, found.service.name);
      if (found.service.mode !== 'replicated') {
        errors.push(`${shown}: scale can only be used with replicated mode`);
        continue;
      }
      await client.scale(found.project, { [found.service.name]: Number(m[2]) });
      process.stdout.write(`${shown} scaled to ${Number(m[2])}\n`);
      scaled.push({ found, shown });
    }
    if (!f.detach) for (const s of scaled) await converge(client, s.found.project, s.found.service.name, s.shown);
    if (errors.length > 0) throw new UserError(errors.join('\n'));
  });

  projectOptions(
    service
      .command('logs <service>')
      .description('Show the output of a service\'s tasks (or of one task, given its id)')
      .option('-f, --follow', 'follow the output')
      .option('-n, --tail <lines>', 'number of lines from the end of each task\'s log, or "all"', 'all')
      .option('-t, --timestamps', 'show timestamps')
      .option('--no-task-ids', 'leave task ids out of the prefix')
      .option('--raw', 'only the lines, without the task prefix'),
    { shortFile: false },
  ).action(async (name: string, _o: unknown, cmd: Command) => {
    const f = projectFlags<LogFlags>(cmd);
    const tail = f.tail === 'all' ? undefined : Number(f.tail);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new UserError(`--tail: expected a whole number or "all", got "${f.tail}"`);
    const client = await ensureDaemon();
    const finder = new ServiceFinder(client, f);
    let found = await finder.find(name);
    let onlyTask: string | undefined;
    if (!found && /^[0-9a-f]+$/.test(name)) {
      // As docker: a task id (or its prefix) shows that task's output.
      const hits = (await finder.all()).flatMap((st) => st.tasks.filter((t) => t.id.startsWith(name)).map((t) => ({ st, t })));
      const svc = hits.length === 1 ? hits[0].st.services.find((s) => s.name === hits[0].t.service) : undefined;
      if (hits.length > 1) throw new UserError(`task id prefix "${name}" is ambiguous`);
      if (svc) {
        found = { project: hits[0].st.project, service: svc, status: hits[0].st };
        onlyTask = hits[0].t.id;
      }
    }
    if (!found) throw new UserError(`no such task or service: ${name}`);
    const ac = new AbortController();
    process.once('SIGINT', () => ac.abort());
    const print = serviceLogPrinter(found, await client.nodes(), f, onlyTask);
    await client.logs(found.project, { services: [found.service.name], tail, follow: f.follow === true, signal: ac.signal }, print);
  });

  projectOptions(service.command('history <service>').description('List the revisions of a service and what changed in each')).action(
    async (name: string, _o: unknown, cmd: Command) => {
      const client = await ensureDaemon();
      const found = await new ServiceFinder(client, projectFlags(cmd)).resolve(name);
      const revs = await client.serviceHistory(found.project, found.service.name);
      const rows = revs.map((r) => [`${r.current ? '*' : ' '}${r.revision}`, r.cause, `${ago(r.createdAt)} ago`, r.image ?? '-', r.changes.join(', ') || '-']);
      process.stdout.write(table(['REVISION', 'CAUSE', 'CREATED', 'IMAGE', 'CHANGES'], rows) + '\n');
    },
  );

  projectOptions(
    service
      .command('update <service>')
      .description('Change one service and roll the change out with its update_config')
      .option('--image <image>', 'new image')
      .option('--env-add <NAME=VALUE>', 'add or set an environment variable (repeatable)', collect)
      .option('--env-rm <NAME>', 'remove an environment variable (repeatable)', collect)
      .option('--args <command>', 'new command (shell words)')
      .option('--replicas <n>', 'number of replicas')
      .option('--force', 'replace every task even without a change')
      .option('--update-parallelism <n>', 'tasks replaced at once (0 = all)')
      .option('--update-delay <duration>', 'delay between batches')
      .option('--update-order <order>', 'start-first or stop-first')
      .option('--update-failure-action <action>', 'pause, continue or rollback')
      .option('--update-monitor <duration>', 'how long a new task is watched for failure')
      .option('--update-max-failure-ratio <ratio>', 'failures tolerated, 0 to 1')
      .option('-d, --detach', 'return at once instead of following the update')
      .option('--timeout <seconds>', 'how long to follow the update', '600'),
  ).action(async (name: string, _o: unknown, cmd: Command) => {
    const f = projectFlags<UpdateFlags>(cmd);
    const req: ServiceUpdateRequest = {};
    if (f.image) req.image = f.image;
    if (f.envAdd) req.envAdd = f.envAdd;
    if (f.envRm) req.envRm = f.envRm;
    if (f.args !== undefined) req.command = shellSplit(f.args);
    const replicas = whole('--replicas', f.replicas);
    if (replicas !== undefined) req.replicas = replicas;
    if (f.force) req.force = true;
    const uc = updateConfigFlags(f);
    if (uc) req.updateConfig = uc;
    if (Object.keys(req).length === 0) throw new UserError('service update: nothing to change (give --image, --env-add, --replicas, --force, ...)');
    const client = await ensureDaemon();
    const { project, service: svc } = await new ServiceFinder(client, f).resolve(name);
    const r = await client.serviceUpdate(project, svc.name, req);
    const what = r.updated.includes(svc.name) ? 'Updating' : 'Unchanged';
    process.stdout.write(` ✔ Service ${svc.name.padEnd(20)} ${what}\n`);
    if (!f.detach && r.updated.includes(svc.name)) await waitReady(client, project, Number(f.timeout ?? 600) * 1000);
  });

  projectOptions(
    service
      .command('rollback <service>')
      .description("Return a service to its previous revision, rolled out with its rollback_config")
      .option('-d, --detach', 'return at once instead of following the rollback')
      .option('--timeout <seconds>', 'how long to follow the rollback', '600'),
  ).action(async (name: string, _o: unknown, cmd: Command) => {
    const f = projectFlags<ProjectFlags & { detach?: boolean; timeout?: string }>(cmd);
    const client = await ensureDaemon();
    const { project, service: svc } = await new ServiceFinder(client, f).resolve(name);
    const r = await client.serviceRollback(project, svc.name);
    process.stdout.write(` ✔ Service ${svc.name.padEnd(20)} Rolling back to revision ${r.to}\n`);
    if (!f.detach) await waitReady(client, project, Number(f.timeout ?? 600) * 1000, { rollbackIsFailure: false });
  });
}

import type { Task } from '../../model/types.js';
import { ensureDaemon } from '../connect.js';
import { UserError } from '../errors.js';
import { parseDuration } from '../../spec/duration.js';
import { ago, table } from '../format.js';
import { logPrinter } from '../logs-printer.js';
import { collect, projectFlags, projectName, projectOptions, type ProjectFlags } from '../project.js';
import type { Command } from 'commander';

interface PsFlags extends ProjectFlags {
  format?: string;
  all?: boolean;
  quiet?: boolean;
  services?: boolean;
  status?: string[];
  filter?: string[];
}

/** A task's state in docker compose ps's words (--status, --filter status=). */
const COMPOSE_STATUS: Record<string, string> = { running: 'running', complete: 'exited', failed: 'exited', shutdown: 'exited', rejected: 'dead', orphaned: 'dead', pending: 'created', assigned: 'created', preparing: 'created', starting: 'created' };
const STATUSES = ['running', 'exited', 'created', 'dead', 'paused', 'restarting', 'removing'];

/** A number of seconds given to a flag. */
function seconds(flag: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UserError(`${flag}: expected a number of seconds, got "${v}"`);
  return n;
}

/** A --since/--until value as docker logs takes it: a timestamp, unix seconds, or a Go duration back from now. */
function logTime(flag: string, v: string): string {
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return new Date(Number(s) * 1000).toISOString();
  const d = parseDuration(s);
  if (d !== undefined) return new Date(Date.now() - d).toISOString();
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new UserError(`${flag}: expected a timestamp (2024-05-01T10:00:00Z), unix seconds or a duration (42m), got "${v}"`);
  return new Date(t).toISOString();
}

function newestPerSlot(tasks: Task[]): Task[] {
  const newest = new Map<string, Task>();
  for (const t of tasks) {
    const k = `${t.service}/${t.slot}`;
    const cur = newest.get(k);
    if (!cur || t.createdAt > cur.createdAt) newest.set(k, t);
  }
  return tasks.filter((t) => newest.get(`${t.service}/${t.slot}`) === t);
}

/** One `ps --format json` object per task. */
export function psRow(t: Task): Record<string, unknown> {
  return {
    id: t.id,
    project: t.project,
    service: t.service,
    slot: t.slot,
    name: `${t.project}-${t.service}-${t.slot}`,
    node: t.node ?? null,
    driver: t.driver,
    state: t.state,
    desiredState: t.desiredState,
    health: t.health,
    paused: t.paused === true,
    pid: t.pid ?? null,
    ports: t.ports.map((p) => ({ target: p.target, protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort, ...(p.nodePort ? { nodePort: p.nodePort } : {}) })),
    restarts: t.restarts,
    exitCode: t.exitCode ?? null,
    error: t.error ?? null,
    message: t.message ?? null,
    revision: t.revision,
    createdAt: t.createdAt,
    startedAt: t.startedAt ?? null,
    finishedAt: t.finishedAt ?? null,
  };
}

function statusText(t: Task): string {
  if (t.state === 'running') {
    const h = t.health === 'none' ? '' : ` (${t.health})`;
    return `Up ${ago(t.startedAt)}${t.paused ? ' (Paused)' : h}`;
  }
  if (t.state === 'complete' || t.state === 'failed' || (t.state === 'shutdown' && t.finishedAt)) {
    return `Exited (${t.exitCode ?? '?'}) ${ago(t.finishedAt)} ago${t.error && t.state === 'failed' ? `: ${t.error}` : ''}`;
  }
  if (t.state === 'pending' && t.message) return `Pending: ${t.message}`;
  if (t.error) return `${t.state}: ${t.error}`;
  return t.state;
}

export function projectCommands(program: Command): void {
  projectOptions(
    program
      .command('ps [services...]')
      .description('List the tasks of a project')
      .option('--format <format>', 'table or json', 'table')
      .option('-a, --all', 'also show stopped tasks and task history')
      .option('-q, --quiet', 'only task ids')
      .option('--services', 'only the names of the services')
      .option('--status <status>', 'only tasks in this state: running, exited, created or dead (repeatable)', collect)
      .option('--filter <filter>', 'status=STATUS, as --status (repeatable)', collect),
  ).action(async (services: string[], _o: unknown, cmd: Command) => {
    const flags = projectFlags<PsFlags>(cmd);
    const name = await projectName(flags);
    const client = await ensureDaemon();
    const st = await client.status(name, flags.all === true);
    let tasks = st.tasks.filter((t) => services.length === 0 || services.includes(t.service));
    const wanted = [...(flags.status ?? [])];
    for (const f of flags.filter ?? []) {
      const m = /^status=(.+)$/.exec(f);
      if (!m) throw new UserError(`--filter: expected status=STATUS, got "${f}"`);
      wanted.push(m[1]);
    }
    for (const s of wanted) if (!STATUSES.includes(s)) throw new UserError(`--status: expected one of ${STATUSES.join(', ')}, got "${s}"`);
    // Asking for a state looks at each slot's newest task, stopped ones too (as docker compose ps --status exited does).
    if (!flags.all) tasks = wanted.length === 0 ? tasks.filter((t) => t.desiredState === 'running' || !['shutdown'].includes(t.state)) : newestPerSlot(tasks);
    if (wanted.length > 0) tasks = tasks.filter((t) => wanted.includes(t.paused && t.state === 'running' ? 'paused' : COMPOSE_STATUS[t.state] ?? t.state));
    if (flags.services) {
      for (const s of [...new Set(tasks.map((t) => t.service))]) process.stdout.write(s + '\n');
    } else if (flags.quiet) {
      for (const t of tasks) process.stdout.write(t.id + '\n');
    } else if (flags.format === 'json') {
      process.stdout.write(JSON.stringify(tasks.map(psRow), null, 2) + '\n');
    } else if (flags.format === 'table' || flags.format === undefined) {
      const svcPorts = new Map(st.services.map((s) => [s.name, s.ports]));
      const rows = tasks.map((t) => [
        `${t.project}-${t.service}-${t.slot}`,
        t.id,
        t.service,
        statusText(t),
        t.pid ? String(t.pid) : '',
        (svcPorts.get(t.service) ?? []).map((p) => (p.published !== undefined ? `${p.hostIp ?? '0.0.0.0'}:${p.published}->${p.target}/${p.protocol}` : `${p.target}/${p.protocol}`)).join(', '),
      ]);
      // In a cluster (tasks on more than one node) a NODE column says where each runs, as `docker service ps` does.
      const nodeIds = new Set(tasks.map((t) => t.node).filter((n): n is string => n !== undefined));
      if (nodeIds.size > 1) {
        const names = new Map((await client.nodes()).map((n) => [n.id, n.hostname]));
        tasks.forEach((t, i) => rows[i].splice(3, 0, t.node ? `${names.get(t.node) ?? '?'} (${t.node})` : ''));
        process.stdout.write(table(['NAME', 'ID', 'SERVICE', 'NODE', 'STATUS', 'PID', 'PORTS'], rows) + '\n');
      } else process.stdout.write(table(['NAME', 'ID', 'SERVICE', 'STATUS', 'PID', 'PORTS'], rows) + '\n');
    } else throw new UserError(`--format: expected table or json, got "${flags.format}"`);
  });

  for (const action of ['pause', 'unpause'] as const) {
    projectOptions(
      program.command(`${action} [services...]`).description(action === 'pause' ? 'Pause the running tasks of services: every process frozen until unpause' : 'Unpause the paused tasks of services'),
    ).action(async (services: string[], _o: unknown, cmd: Command) => {
      const name = await projectName(projectFlags<ProjectFlags>(cmd));
      const client = await ensureDaemon();
      const r = await client.pause(name, action, services);
      for (const k of r.changed) process.stdout.write(` ✔ Container ${`${name}-${k.service}-${k.slot}`.padEnd(20)} ${action === 'pause' ? 'Paused' : 'Unpaused'}\n`);
    });
  }

  projectOptions(
    program
      .command('kill [services...]')
      .description('Send a signal to the running tasks of services (default SIGKILL, which also stops the services, as docker compose kill)')
      .option('-s, --signal <signal>', 'the signal: a name (SIGHUP, HUP) or a number', 'SIGKILL'),
  ).action(async (services: string[], o: { signal: string }, cmd: Command) => {
    const flags = projectFlags<ProjectFlags>(cmd);
    const name = await projectName(flags);
    const client = await ensureDaemon();
    const r = await client.kill(name, services, o.signal);
    for (const k of r.killed) process.stdout.write(` ✔ Container ${`${name}-${k.service}-${k.slot}`.padEnd(20)} Killed\n`);
  });

  projectOptions(
    program
      .command('logs [services...]')
      .description('Show the output of the services')
      .option('-f, --follow', 'follow the output')
      .option('-n, --tail <lines>', 'number of lines from the end of each task\'s log, or "all"', 'all')
      .option('-t, --timestamps', 'show timestamps')
      .option('--since <time>', 'only lines from this time on: a timestamp (2024-05-01T10:00:00Z), unix seconds, or a duration back from now (42m, 1h30m)')
      .option('--until <time>', 'only lines before this time, written as for --since')
      .option('--no-log-prefix', 'do not print the service-slot prefix'),
    { shortFile: false },
  ).action(async (services: string[], _o: unknown, cmd: Command) => {
    const flags = projectFlags<ProjectFlags & { follow?: boolean; tail: string; timestamps?: boolean; logPrefix: boolean; since?: string; until?: string }>(cmd);
    const since = flags.since === undefined ? undefined : logTime('--since', flags.since);
    const until = flags.until === undefined ? undefined : logTime('--until', flags.until);
    const tail = flags.tail === 'all' ? undefined : Number(flags.tail);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new UserError(`--tail: expected a whole number or "all", got "${flags.tail}"`);
    const name = await projectName(flags);
    const client = await ensureDaemon();
    const ac = new AbortController();
    process.once('SIGINT', () => ac.abort());
    await client.logs(name, { services, tail, follow: flags.follow === true, signal: ac.signal, ...(since ? { since } : {}), ...(until ? { until } : {}) }, logPrinter({ timestamps: flags.timestamps === true, noPrefix: !flags.logPrefix }));
  });

  projectOptions(
    program.command('scale <service=replicas...>').description('Set the number of replicas of services'),
  ).action(async (pairs: string[], _o: unknown, cmd: Command) => {
    const flags = projectFlags(cmd);
    const replicas: Record<string, number> = {};
    for (const pair of pairs) {
      const m = /^([^=]+)=(\d+)$/.exec(pair);
      if (!m) throw new UserError(`scale: expected SERVICE=REPLICAS, got "${pair}"`);
      replicas[m[1]] = Number(m[2]);
    }
    const name = await projectName(flags);
    const client = await ensureDaemon();
    await client.scale(name, replicas);
    for (const [s, n] of Object.entries(replicas)) process.stdout.write(` ✔ Service ${s.padEnd(20)} Scaled to ${n}\n`);
  });

  for (const [action, verb, desc] of [
    ['stop', 'Stopped', 'Stop services without removing them'],
    ['start', 'Started', 'Start stopped services'],
    ['restart', 'Restarted', 'Restart services (new tasks for every slot)'],
  ] as const) {
    const command = program.command(`${action} [services...]`).description(desc);
    if (action !== 'start') command.option('-t, --timeout <seconds>', 'kill the tasks still running after this many seconds (a grace period shorter than their own)');
    projectOptions(command).action(async (services: string[], _o: unknown, cmd: Command) => {
      const flags = projectFlags<ProjectFlags & { timeout?: string }>(cmd);
      const timeout = flags.timeout === undefined ? undefined : seconds('--timeout', flags.timeout);
      const name = await projectName(flags);
      const client = await ensureDaemon();
      const r = await client.action(name, action, services, timeout);
      for (const n of r.changed) process.stdout.write(` ✔ Service ${n.padEnd(20)} ${verb}\n`);
    });
  }

  projectOptions(
    program
      .command('down')
      .description('Stop and remove the services of a project')
      .option('-v, --volumes', 'also remove the named volumes the project created')
      .option('--remove-orphans', 'accepted for Compose compatibility: every service of the project is removed')
      .option('--rmi <type>', 'also remove images: local (those built without an image: name) or all')
      .option('-t, --timeout <seconds>', 'kill the tasks still running after this many seconds (a grace period shorter than their own)'),
  ).action(async (_o: unknown, cmd: Command) => {
    const flags = projectFlags<ProjectFlags & { volumes?: boolean; rmi?: string; timeout?: string }>(cmd);
    const timeout = flags.timeout === undefined ? undefined : seconds('--timeout', flags.timeout);
    if (flags.rmi !== undefined && flags.rmi !== 'local' && flags.rmi !== 'all') throw new UserError(`--rmi: expected local or all, got "${flags.rmi}"`);
    const name = await projectName(flags);
    const client = await ensureDaemon();
    const r = await client.down(name, { volumes: flags.volumes === true, ...(flags.rmi ? { rmi: flags.rmi as 'local' | 'all' } : {}), ...(timeout !== undefined ? { timeoutSeconds: timeout } : {}) });
    for (const n of r.removed) process.stdout.write(` ✔ Service ${n.padEnd(20)} Removed\n`);
    for (const i of r.images ?? []) {
      if (i.error) process.stderr.write(`WARN image ${i.image}: ${i.error}\n`);
      else process.stdout.write(` ✔ Image ${i.image.padEnd(22)} Removed\n`);
    }
  });
}

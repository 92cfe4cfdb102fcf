import { Option, type Command } from 'commander';
import type { ApiClient, DeployResult } from '../../api/index.js';
import type { ComposeProject } from '../../spec/types.js';
import { fileSources } from '../../spec/sources.js';
import { withPositions } from '../positions.js';
import { upProject } from '../up-options.js';
import { lastEventSeq, watchForAbort, type AbortOptions } from '../abort-watch.js';
import { ApiRequestError } from '../../api/client.js';
import { ensureDaemon } from '../connect.js';
import { UserError } from '../errors.js';
import { logPrinter } from '../logs-printer.js';
import { load, projectFlags, projectOptions, type ProjectFlags, collect } from '../project.js';
import { readiness } from '../readiness.js';
import { buildImages, deployCredentials, pullImages } from '../build.js';

interface UpFlags extends ProjectFlags {
  detach?: boolean;
  wait?: boolean;
  waitTimeout?: string;
  removeOrphans?: boolean;
  timestamps?: boolean;
  timeout?: string;
  build?: boolean;
  withRegistryAuth?: boolean;
  attach?: string[];
  noAttach?: string[];
  attachDependencies?: boolean;
  scale?: string[];
  pull?: string;
  deps?: boolean;
  noBuild?: boolean;
  forceRecreate?: boolean;
  abortOnContainerExit?: boolean;
  abortOnContainerFailure?: boolean;
  exitCodeFrom?: string;
}

export function upCommand(program: Command): void {
  projectOptions(
    program
      .command('up [services...]')
      .description('Create and start the services of a Compose project (starts the daemon when none runs)')
      .option('-d, --detach', 'run in the background: return once deployed')
      .option('--wait', 'wait until every service is running and healthy (implies --detach)')
      .option('--wait-timeout <seconds>', 'give up waiting after this many seconds', '300')
      .option('--remove-orphans', 'remove services no longer in the Compose files')
      .option('--timestamps', 'show timestamps in the attached logs')
      .option('-t, --timeout <seconds>', 'kill containers still running this many seconds after being told to stop (when replaced, or at Ctrl-C)')
      .option('--build', 'build images of build: sections even when they exist (else only missing ones are built)')
      .option('--with-registry-auth', 'send your registry logins with the deploy, so the nodes that run its tasks can pull private images (as docker stack deploy)')
      .option('--attach <service>', 'show the logs of this service when attached (repeatable; default: the services named, else all but those with attach: false)', collect)
      .addOption(noAttachOption())
      .option('--attach-dependencies', 'also show the logs of the services named ones depend on')
      .option('--scale <service=num>', 'run this many replicas of the service, whatever the file says (repeatable)', collect)
      .option('--pull <policy>', 'pull images: always, missing or never (for every service, whatever its pull_policy)')
      .option('--no-deps', 'do not start the services the named ones depend on')
      .option('--no-build', 'do not build images, even missing ones')
      .option('--force-recreate', 'replace the containers even if their configuration has not changed')
      .option('--abort-on-container-exit', 'stop all services when any container stops (attached only)')
      .option('--abort-on-container-failure', 'stop all services when any container exits with a non-zero code (attached only)')
      .option('--exit-code-from <service>', 'exit with the code of this service\'s container (implies --abort-on-container-exit)'),
  ).action(async (services: string[], _o: unknown, cmd: Command) => {
    const flags = projectFlags<UpFlags>(cmd);
    const timeout = flags.timeout === undefined ? undefined : Number(flags.timeout);
    if (timeout !== undefined && (!Number.isFinite(timeout) || timeout < 0 || flags.timeout!.trim() === '')) throw new UserError(`--timeout: expected a number of seconds, got "${flags.timeout}"`);
    const loaded = await load(flags);
    const project = upProject(loaded, services, flags);
    const attached = !flags.detach && !flags.wait;
    // Checked before anything is deployed: a wrong flag changes nothing.
    const abort = abortOptions(flags, project, attached);
    const attachTo = attached ? attachedServices(loaded, services, flags) : [];
    const client = await ensureDaemon();
    const toBuild = flags.noBuild === true ? [] : Object.values(project.services).filter((s) => s.build).map((s) => s.name);
    if (toBuild.length > 0) await buildImages(client, project, toBuild, flags.build === true, {}, loaded);
    // Missing images are pulled here, their progress shown, before the deploy checks that every image is present.
    const toPull = Object.values(project.services).filter((s) => s.image && !s.build).map((s) => s.name);
    if (toPull.length > 0) await pullImages(client, project, toPull, true);
    const since = abort ? await lastEventSeq(client, project.name).catch(() => 0) : 0;
    const result = await client.deploy(project, flags.removeOrphans === true, fileSources(loaded), flags.withRegistryAuth ? deployCredentials(project) : undefined).catch((err: unknown) => {
      throw err instanceof ApiRequestError ? withPositions(err, loaded) : err;
    });
    printDeploy(result);
    // As docker compose recreates: new containers for the services this deploy left as they were.
    const same = result.unchanged.filter((s) => project.services[s]);
    if (flags.forceRecreate && same.length > 0) for (const n of (await client.action(project.name, 'restart', same, timeout)).changed) process.stdout.write(` ✔ Service ${n.padEnd(20)} Recreated\n`);
    if (flags.wait || attached) {
      const timeout = Number(flags.waitTimeout) * 1000;
      if (!Number.isFinite(timeout) || timeout <= 0) throw new UserError(`--wait-timeout: expected a number of seconds, got "${flags.waitTimeout}"`);
      if (flags.wait) await waitReady(client, project.name, timeout);
    }
    printEndpoints(project);
    if (attached) await attach(client, project, attachTo, flags.timestamps === true, abort ? { ...abort, since } : undefined, timeout);
  });
}

/** --abort-on-container-exit / --abort-on-container-failure / --exit-code-from, checked as docker compose checks them. */
function abortOptions(flags: UpFlags, p: ComposeProject, attached: boolean): AbortOptions | undefined {
  if (flags.exitCodeFrom !== undefined && !p.services[flags.exitCodeFrom]) throw new UserError(`--exit-code-from: no such service: ${flags.exitCodeFrom}`);
  if (flags.abortOnContainerExit && flags.abortOnContainerFailure) throw new UserError('--abort-on-container-exit and --abort-on-container-failure exclude each other');
  const cascade = flags.abortOnContainerFailure ? 'fail' : flags.abortOnContainerExit || flags.exitCodeFrom !== undefined ? 'stop' : undefined;
  if (!cascade) return undefined;
  if (!attached) throw new UserError(`${flags.abortOnContainerFailure ? '--abort-on-container-failure' : flags.abortOnContainerExit ? '--abort-on-container-exit' : '--exit-code-from'} and ${flags.wait ? '--wait' : '--detach'} exclude each other`);
  return { cascade, ...(flags.exitCodeFrom !== undefined ? { exitCodeFrom: flags.exitCodeFrom } : {}) };
}

function printDeploy(r: DeployResult): void {
  const line = (name: string, what: string): void => void process.stdout.write(` ✔ Service ${name.padEnd(20)} ${what}\n`);
  r.created.forEach((n) => line(n, 'Created'));
  r.updated.forEach((n) => line(n, 'Updated'));
  r.unchanged.forEach((n) => line(n, 'Running'));
  r.removed.forEach((n) => line(n, 'Removed'));
  for (const w of r.warnings ?? []) process.stderr.write(`WARN ${w}\n`);
  if (r.orphans.length > 0) {
    process.stderr.write(`WARN Found orphan services (${r.orphans.join(', ')}) for this project. Run with --remove-orphans to remove them.\n`);
  }
}

function printEndpoints(p: ComposeProject): void {
  for (const svc of Object.values(p.services)) {
    for (const port of svc.ports) {
      if (port.published === undefined) continue;
      const host = !port.host_ip || port.host_ip === '0.0.0.0' ? 'localhost' : port.host_ip;
      const scheme = port.protocol === 'udp' ? 'udp' : port.target === 443 ? 'https' : 'http';
      process.stdout.write(`   ${svc.name}: ${scheme}://${host}:${port.published.split('-')[0]}\n`);
    }
  }
}

export async function waitReady(client: ApiClient, project: string, timeoutMs: number, opts: { rollbackIsFailure?: boolean; out?: NodeJS.WriteStream } = {}): Promise<void> {
  const out = opts.out ?? process.stdout;
  const deadline = Date.now() + timeoutMs;
  // Rollbacks that start from now on are this deploy's failure (a margin for the clock of a remote manager).
  const since = opts.rollbackIsFailure === false ? '\uffff' : new Date(Date.now() - 1000).toISOString();
  const first = await client.status(project);
  const startRestarts = new Map(first.tasks.map((t) => [`${t.service}#${t.slot}`, t.restarts]));
  let last = '';
  let rev: number | undefined;
  for (;;) {
    const st = await client.status(project, false, rev);
    rev = st.revision;
    const r = readiness(st, startRestarts, since);
    const text = r.lines.map((l) => ` ${l.ok ? '✔' : '…'} ${l.service.padEnd(20)} ${l.text}`).join('\n');
    if (text !== last && out.isTTY) out.write(text + '\n');
    last = text;
    if (r.failure) throw new UserError(`up --wait: ${r.failure}`);
    if (r.done) {
      if (!out.isTTY) out.write(text + '\n');
      return;
    }
    if (Date.now() > deadline) {
      const pending = r.lines.filter((l) => !l.ok).map((l) => `${l.service} (${l.text})`);
      throw new UserError(`up --wait: timed out after ${timeoutMs / 1000}s; not ready: ${pending.join(', ')}`);
    }
  }
}

/** Attached `up`: follow the logs; Ctrl-C stops the services, as Compose does. */
/**
 * Whose logs a foreground `up` shows, as docker compose chooses: --attach when given; else the services named
 * (with --attach-dependencies, and what they depend on), else all; never those with `attach: false` or --no-attach.
 */
export function attachedServices(p: ComposeProject, named: string[], flags: Pick<UpFlags, 'attach' | 'noAttach' | 'attachDependencies'>): string[] {
  for (const s of [...(flags.attach ?? []), ...(flags.noAttach ?? [])]) if (!p.services[s]) throw new UserError(`no such service: ${s}`);
  const chosen = flags.attach && flags.attach.length > 0 ? flags.attach : named.length === 0 ? Object.keys(p.services).filter((s) => p.services[s].attach !== false) : flags.attachDependencies ? Object.keys(upProject(p, named, {}).services) : named;
  return chosen.filter((s) => !(flags.noAttach ?? []).includes(s));
}


/** docker compose's --no-attach SERVICE: a list of its own, not commander's negation of --attach (which a "--no-" name means to it). */
function noAttachOption(): Option {
  const o = new Option('--no-attach <service>', 'do not show the logs of this service when attached (repeatable)').argParser(collect);
  o.negate = false;
  return o;
}

async function attach(client: ApiClient, project: ComposeProject, services: string[], timestamps: boolean, abort?: AbortOptions & { since: number }, timeout?: number): Promise<void> {
  const ac = new AbortController();
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    const r = await client.action(project.name, 'stop', Object.keys(project.services), timeout);
    for (const n of r.changed) process.stdout.write(` ✔ Service ${n.padEnd(20)} Stopped\n`);
  };
  // The logs end first, then the project stops, as docker compose aborts.
  const watch = abort ? watchForAbort(client, project.name, Object.keys(project.services), abort.since, abort, async () => (ac.abort(), await stopAll())) : undefined;
  void watch?.aborted.then((code) => {
    process.exitCode = code;
    ac.abort();
  });
  const onSignal = (): void => {
    if (stopping) {
      process.stderr.write('forcing exit; services keep running (use `baton stop`)\n');
      process.exit(130);
    }
    stopping = true;
    process.stderr.write('Gracefully stopping... (press Ctrl+C again to force)\n');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.write('Attaching to ' + services.join(', ') + '\n');
  // None attached: wait for Ctrl-C all the same, as docker compose does.
  if (services.length === 0) await new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true }));
  else await client.logs(project.name, { services, follow: true, tail: 0, signal: ac.signal }, logPrinter({ timestamps }));
  if (watch) {
    // Ended by an abort: its code is set once the project has stopped; ended by Ctrl-C: no abort any more.
    if (!stopping) await watch.aborted;
    watch.close();
  }
  if (stopping) await stopAll();
}


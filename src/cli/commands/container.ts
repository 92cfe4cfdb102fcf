import type { Command } from 'commander';
import { ensureDaemon } from '../connect.js';
import { UserError } from '../errors.js';
import { bytes, table } from '../format.js';
import { existsSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { load, projectFlags, projectName, projectOptions, type ProjectFlags, collect } from '../project.js';
import { buildImages, pullImages, pushImages } from '../build.js';
import { prepareRun } from '../run-deps.js';
import type { ComposeProject } from '../../spec/types.js';
import { StdioClosedError, type StdioSession, type TermSize } from '../../model/stdio.js';


function index(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--index: expected a replica number from 1, got "${text}"`);
  return n;
}

/** `exec`, `run`, `cp`, `port`, `stats` and `top`: commands about a project's running containers, named as in `docker compose`. */
export function containerCommands(program: Command): void {
  projectOptions(
    program
      .command('stats [services...]')
      .description('Show what each running task uses: CPU, memory, network, processes (one sample)')
      .option('--format <format>', 'table or json', 'table'),
  ).action(async (services: string[], _o: unknown, cmd: Command) => {
    const flags = projectFlags<ProjectFlags & { format: string }>(cmd);
    if (flags.format !== 'table' && flags.format !== 'json') throw new UserError(`--format: expected table or json, got "${flags.format}"`);
    const name = await projectName(flags);
    const client = await ensureDaemon();
    const list = await client.stats(name, services);
    if (flags.format === 'json') {
      process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      return;
    }
    const rows = list.map((e) => {
      const s = e.stats;
      const id = `${name}-${e.service}-${e.slot}`;
      if (!s) return [id, e.task, '-', '-', '-', '-', '-'];
      const memPct = s.memoryLimitBytes > 0 ? `${((s.memoryBytes / s.memoryLimitBytes) * 100).toFixed(2)}%` : '-';
      return [id, e.task, `${s.cpuPercent.toFixed(2)}%`, `${bytes(s.memoryBytes)} / ${bytes(s.memoryLimitBytes)}`, memPct, `${bytes(s.netRxBytes)} / ${bytes(s.netTxBytes)}`, String(s.pids)];
    });
    process.stdout.write(table(['NAME', 'TASK', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'PIDS'], rows) + '\n');
  });

  projectOptions(program.command('top [services...]').description('Show the processes of each running task')).action(async (services: string[], _o: unknown, cmd: Command) => {
    const flags = projectFlags(cmd);
    const name = await projectName(flags);
    const client = await ensureDaemon();
    const list = await client.top(name, services);
    if (list.length === 0) throw new UserError('no running task can show its processes (top needs a container driver)');
    for (const e of list) {
      process.stdout.write(`${name}-${e.service}-${e.slot}\n${table(e.titles, e.processes)}\n\n`);
    }
  });

  projectOptions(
    program
      .command('exec <service> <command...>')
      .description('Run a command in a running container of a service')
      .option('--index <n>', 'which replica (default 1)')
      .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect)
      .option('-u, --user <user>', 'run as this user')
      .option('-w, --workdir <dir>', 'working directory inside the container')
      .option('-T, --no-tty', 'no TTY for the command (one is given when this terminal is one)')
      .option('-i, --interactive', 'keep stdin attached (the default, as docker compose exec)')
      .option('--no-interactive', 'do not attach stdin: the command reads an empty one')
      // Everything after the service belongs to the command: `baton exec web ls -la`.
      .passThroughOptions(),
  ).action(async (service: string, argv: string[], _o: unknown, cmd: Command) => {
    const flags = projectFlags<ProjectFlags & AttachFlags & { index?: string; env?: string[]; user?: string; workdir?: string }>(cmd);
    for (const e of flags.env ?? []) if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(e)) throw new UserError(`--env: expected KEY=VALUE, got "${e}"`);
    const name = await projectName(flags);
    const client = await ensureDaemon();
    const io = attachOptions(flags);
    const req = { service, index: index(flags.index) ?? 1, argv, env: flags.env, user: flags.user, workdir: flags.workdir, ...io };
    process.exitCode = await attached(io, (onOutput) => client.execAttached(name, req, onOutput));
  });

  projectOptions(
    program
      .command('build [services...]')
      .description('Build the images of services with a build: section, through the engine')
      .option('--no-cache', 'do not use cached layers')
      .option('--pull', 'pull the images the Dockerfiles start FROM, even when they are here'),
  ).action(
    async (services: string[], o: { cache?: boolean; pull?: boolean }, cmd: Command) => {
      const project = await loadNamed(cmd, services);
      const client = await ensureDaemon();
      const built = await buildImages(client, project, services, true, { noCache: o.cache === false, pull: o.pull === true });
      if (built.length === 0) process.stdout.write('no service has a build: section\n');
    },
  );

  projectOptions(program.command('pull [services...]').description('Pull the images of the services (those without a build: section)')).action(
    async (services: string[], _o: unknown, cmd: Command) => {
      const project = await loadNamed(cmd, services);
      const client = await ensureDaemon();
      await pullImages(client, project, services, false);
    },
  );

  projectOptions(program.command('push [services...]').description('Push the images of the services that name one (image:) to their registries')).action(
    async (services: string[], _o: unknown, cmd: Command) => {
      const project = await loadNamed(cmd, services);
      const client = await ensureDaemon();
      const pushed = await pushImages(client, project, services);
      if (pushed.length === 0) process.stdout.write('no service names an image to push\n');
    },
  );

  projectOptions(
    program.command('images').description('List the image of each service of the project and what this node has of it').option('--format <format>', 'table or json', 'table'),
  ).action(async (_o: unknown, cmd: Command) => {
    const flags = projectFlags<ProjectFlags & { format: string }>(cmd);
    if (flags.format !== 'table' && flags.format !== 'json') throw new UserError(`--format: expected table or json, got "${flags.format}"`);
    const name = await projectName(flags);
    const client = await ensureDaemon();
    const list = await client.images(name);
    if (flags.format === 'json') process.stdout.write(JSON.stringify(list, null, 2) + '\n');
    else {
      const rows = list.map((e) => [e.service, e.image, e.id ? e.id.replace(/^sha256:/, '').slice(0, 12) : '(not on this node)', e.sizeBytes !== undefined ? bytes(e.sizeBytes) : '', e.created ?? '']);
      process.stdout.write(table(['SERVICE', 'IMAGE', 'ID', 'SIZE', 'CREATED'], rows) + '\n');
    }
  });

  projectOptions(
    program
      .command('run <service> [command...]')
      .description('Run a one-off container of a service (its image, networks, volumes, environment) with a command')
      .option('--rm', 'remove the container when it exits')
      .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect)
      .option('-u, --user <user>', 'run as this user')
      .option('-w, --workdir <dir>', 'working directory inside the container')
      .option('--entrypoint <cmd>', 'override the entrypoint (a single program)')
      .option('-T, --no-tty', 'no TTY for the command (one is given when this terminal is one)')
      .option('-i, --interactive', 'keep stdin attached (the default, as docker compose run)')
      .option('--no-interactive', 'do not attach stdin: the command reads an empty one')
      .option('--no-deps', 'do not start the services it depends on')
      .passThroughOptions(),
  ).action(async (service: string, argv: string[], _o: unknown, cmd: Command) => {
    const flags = projectFlags<ProjectFlags & AttachFlags & { rm?: boolean; env?: string[]; user?: string; workdir?: string; entrypoint?: string; deps?: boolean }>(cmd);
    for (const e of flags.env ?? []) if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(e)) throw new UserError(`--env: expected KEY=VALUE, got "${e}"`);
    // As docker compose run: the file says what the service is; what it depends on is started first.
    // Without a file here, -p names a project deployed from elsewhere (a stack): it runs as deployed.
    const loaded = await load(flags).catch((err: unknown) => {
      if (flags.projectName && err instanceof Error && /no Compose file found/.test(err.message)) return undefined;
      throw err;
    });
    if (loaded && !loaded.services[service]) throw new UserError(`no such service: ${service}`);
    const name = loaded?.name ?? flags.projectName!;
    const client = await ensureDaemon();
    if (loaded) await prepareRun(client, loaded, service, flags.deps !== false);
    const io = attachOptions(flags);
    const req = { service, argv, env: flags.env, user: flags.user, workdir: flags.workdir, rm: flags.rm === true, ...(flags.entrypoint ? { entrypoint: [flags.entrypoint] } : {}), ...io };
    process.exitCode = await attached(io, (onOutput) => client.runAttached(name, req, onOutput));
  });

  projectOptions(
    program
      .command('cp <source> <destination>')
      .description('Copy files between a service\'s container and this machine (SERVICE:PATH on one side), as docker cp: into a destination folder, else under the destination\'s name')
      .option('--index <n>', 'which replica (default 1)'),
  ).action(async (source: string, destination: string, _o: unknown, cmd: Command) => {
    const flags = projectFlags<ProjectFlags & { index?: string }>(cmd);
    const remote = (s: string): { service: string; path: string } | undefined => {
      const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(.+)$/.exec(s);
      return m ? { service: m[1], path: m[2] } : undefined;
    };
    const from = remote(source);
    const to = remote(destination);
    if ((from && to) || (!from && !to)) throw new UserError('cp: give one side as SERVICE:PATH and the other as a local path');
    const side = (from ?? to)!;
    if (!side.path.startsWith('/')) throw new UserError(`cp: the path inside the container must be absolute, got "${side.path}"`);
    const name = await projectName(flags);
    const client = await ensureDaemon();
    const where = { service: side.service, index: index(flags.index) ?? 1, path: side.path };
    // tar-fs only for cp: every other command starts without it.
    const { extract, pack } = await import('tar-fs');
    if (from) {
      const dest = resolve(destination);
      const into = existsSync(dest) && statSync(dest).isDirectory();
      // As docker cp: a destination that does not exist is made under its name, in a folder that does.
      if (!into && /[/\\]$/.test(destination)) throw new UserError(`cp: ${destination}: no such folder`);
      if (!into && !(existsSync(dirname(dest)) && statSync(dirname(dest)).isDirectory())) throw new UserError(`cp: ${dirname(dest)}: no such folder`);
      const tar = await client.archive(name, where);
      // Into an existing folder, as itself; else under the destination's name.
      if (into) await pipeline(tar, extract(dest));
      else {
        const top = basename(side.path.replace(/\/+$/, '')) || '/';
        const rename = basename(dest);
        await pipeline(tar, extract(dirname(dest), { map: (h) => ({ ...h, name: h.name === top || h.name.startsWith(`${top}/`) ? rename + h.name.slice(top.length) : h.name }) }));
      }
    } else {
      const src = resolve(source);
      if (!existsSync(src)) throw new UserError(`cp: ${source}: no such file or folder`);
      const chunks: Buffer[] = [];
      const tar = pack(dirname(src), { entries: [basename(src)] });
      for await (const c of tar as AsyncIterable<Buffer>) chunks.push(c);
      await client.putArchive(name, where, Buffer.concat(chunks));
    }
  });

  projectOptions(
    program
      .command('port <service> <port>')
      .description('Print the address of a service port: its published one, or with --index where baton reaches that replica')
      .option('--protocol <proto>', 'tcp or udp', 'tcp')
      .option('--index <n>', 'the address of this replica\'s own port instead of the published one'),
  ).action(async (service: string, portText: string, _o: unknown, cmd: Command) => {
    const flags = projectFlags<ProjectFlags & { protocol: string; index?: string }>(cmd);
    const target = Number(portText);
    if (!Number.isInteger(target) || target < 1 || target > 65535) throw new UserError(`port: expected a port number, got "${portText}"`);
    if (flags.protocol !== 'tcp' && flags.protocol !== 'udp') throw new UserError(`--protocol: expected tcp or udp, got "${flags.protocol}"`);
    const name = await projectName(flags);
    const client = await ensureDaemon();
    const st = await client.status(name);
    const svc = st.services.find((s) => s.name === service);
    if (!svc) throw new UserError(`no such service in project "${name}": ${service}`);
    const n = index(flags.index);
    if (n !== undefined) {
      const t = st.tasks.find((x) => x.service === service && x.slot === n && x.state === 'running');
      const p = t?.ports.find((x) => x.target === target && x.protocol === flags.protocol);
      if (!t) throw new UserError(`service "${service}" has no running replica ${n}`);
      if (!p) throw new UserError(`service "${service}": port ${target}/${flags.protocol} is neither published nor exposed`);
      process.stdout.write(`${p.hostIp}:${p.hostPort}\n`);
      return;
    }
    const p = svc.ports.find((x) => x.target === target && x.protocol === flags.protocol);
    if (p?.published === undefined) throw new UserError(`service "${service}": port ${target}/${flags.protocol} is not published`);
    process.stdout.write(`${p.hostIp ?? '0.0.0.0'}:${p.published}\n`);
  });
}

/** -T/--no-tty and -i/--no-interactive as commander leaves them. */
interface AttachFlags {
  tty: boolean;
  interactive: boolean;
}

/** A TTY when asked for and this side has one (stdin and stdout both terminals); stdin unless --no-interactive. */
function attachOptions(flags: AttachFlags): { tty: boolean; stdin: boolean; size?: TermSize } {
  const tty = flags.tty !== false && process.stdin.isTTY === true && process.stdout.isTTY === true;
  return { tty, stdin: flags.interactive !== false, ...(tty ? { size: terminalSize() } : {}) };
}

function terminalSize(): TermSize {
  return { cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 };
}

/**
 * Runs an attached exec/run to its end: this terminal in raw mode with a TTY
 * (keys, ^C included, go to the command) and its size followed; stdin
 * forwarded when attached; output written as it comes. Resolves with the exit
 * code for the CLI to exit with; the terminal is restored whatever happens.
 */
async function attached(io: { tty: boolean; stdin: boolean }, open: (onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void) => Promise<StdioSession>): Promise<number> {
  const stdin = process.stdin;
  const session = await open((stream, data) => (stream === 'stderr' ? process.stderr : process.stdout).write(data));
  const onData = (d: Buffer): void => session.write(d);
  const onEnd = (): void => session.end();
  const onResize = (): void => session.resize(terminalSize());
  // A signal to this CLI (^C without a TTY; with one, ^C is a key for the command) leaves: the daemon then
  // ends the command's stream (exec) or stops the container (run), and the terminal is restored below.
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    signalled = sig;
    session.close();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onSignal);
  if (io.tty) {
    stdin.setRawMode(true);
    process.stdout.on('resize', onResize);
  }
  if (io.stdin) {
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.resume();
  }
  try {
    return (await session.done) ?? 1;
  } catch (err) {
    // As a shell reports a command a signal ended: 128 + its number.
    if (signalled) return 128 + (osConstants.signals[signalled] ?? 2);
    if (err instanceof StdioClosedError) throw new UserError('the connection to the daemon closed before the command ended');
    throw err;
  } finally {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    stdin.pause();
    process.stdout.off('resize', onResize);
    for (const sig of signals) process.off(sig, onSignal);
    if (io.tty) stdin.setRawMode(false);
  }
}

/** The project, once every service named on the command line is in it. */
async function loadNamed(cmd: Command, services: string[]): Promise<ComposeProject> {
  const project = await load(projectFlags(cmd));
  const unknown = services.filter((s) => !project.services[s]);
  if (unknown.length > 0) throw new UserError(`no such service: ${unknown.join(', ')}`);
  return project;
}

import type { Command } from 'commander';
import { connection, ensureDaemon } from '../connect.js';
import { UserError } from '../errors.js';
import { table } from '../format.js';
import { VERSION } from '../../version.js';
import type { DaemonOptions } from '../../daemon/index.js';

export function miscCommands(program: Command): void {
  program
    .command('ls')
    .description('List projects')
    .option('--format <format>', 'table or json', 'table')
    .option('-q, --quiet', 'only project names')
    .action(async (flags: { format: string; quiet?: boolean }) => {
      const client = await ensureDaemon();
      const list = await client.projects();
      if (flags.quiet) for (const p of list) process.stdout.write(p.name + '\n');
      else if (flags.format === 'json') process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      else if (flags.format === 'table') {
        process.stdout.write(table(['NAME', 'STATUS', 'CONFIG FILES'], list.map((p) => [p.name, p.status, p.files.join(',')])) + '\n');
      } else throw new UserError(`--format: expected table or json, got "${flags.format}"`);
    });

  program
    .command('events')
    .description('Stream what happens: deploys, task starts, deaths, health changes')
    .option('-p, --project-name <name>', 'only this project')
    .option('--since <seq>', 'replay events after this sequence number')
    .option('--json', 'one JSON object per line')
    .option('--no-follow', 'print what is recorded and exit')
    .action(async (flags: { projectName?: string; since?: string; json?: boolean; follow: boolean }) => {
      const client = await ensureDaemon();
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      const since = flags.since === undefined ? undefined : Number(flags.since);
      if (since !== undefined && !Number.isInteger(since)) throw new UserError(`--since: expected an event sequence number, got "${flags.since}"`);
      await client.events({ project: flags.projectName, since, follow: flags.follow, signal: ac.signal }, (e) => {
        if (flags.json) process.stdout.write(JSON.stringify(e) + '\n');
        else {
          const who = [e.project, e.service].filter(Boolean).join('/');
          process.stdout.write(`${e.time} ${e.type} ${who}${e.task ? ` ${e.task}` : ''}: ${e.message}\n`);
        }
      });
    });

  program
    .command('version')
    .description('Show the version of baton and of the daemon, when one runs')
    .option('--format <format>', 'text or json', 'text')
    .action(async (flags: { format: string }) => {
      let daemon: unknown = null;
      try {
        daemon = await connection().client.version();
      } catch {
        daemon = null;
      }
      if (flags.format === 'json') process.stdout.write(JSON.stringify({ client: { version: VERSION, node: process.version }, daemon }, null, 2) + '\n');
      else {
        process.stdout.write(`baton version ${VERSION} (node ${process.version})\n`);
        process.stdout.write(daemon ? `daemon: ${(daemon as { version: string }).version}, pid ${(daemon as { pid: number }).pid}\n` : 'daemon: not running\n');
      }
    });

  daemonOptions(program.command('daemon').description('Run the baton daemon in the foreground (manager, agent and API in one process)')).action(async (flags: DaemonFlags) => {
    await runDaemon(flags);
  });
}

export interface DaemonFlags {
  listen?: string;
  token?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  httpPort?: string;
  httpsPort?: string;
  acmeDirectory?: string;
  acmeEmail?: string;
  acmeCa?: string;
  serviceAddresses?: boolean;
  serviceSubnet?: string;
}

/** Where a cluster's nodes take service VIPs from unless told otherwise. */
export const DEFAULT_SERVICE_SUBNET = '10.213.0.0/16';

/** --service-subnet: a CIDR, or none; absent means the default in a cluster and off on a lone daemon. */
export function serviceSubnetFlag(v: string | undefined, cluster: boolean): string | undefined {
  if (v === 'none') return undefined;
  if (v !== undefined) return v;
  return cluster && process.getuid?.() === 0 ? DEFAULT_SERVICE_SUBNET : undefined;
}

export const SERVICE_SUBNET_HELP = `containers reach services by name on every node: VIPs and a DNS server per project from this block, held on loopback (root only; "none" turns it off)`;

/** The options every daemon-like command (daemon, manager) takes. */
export function daemonOptions(cmd: Command): Command {
  return cmd
    .option('--listen <host:port>', 'also serve the API on TCP, over TLS (needs --token or BATON_TOKEN)')
    .option('--token <token>', 'bearer token required on the TCP listener')
    .option('--tls-cert <file>', 'PEM certificate for the TCP listener (default: a self-signed one made in $BATON_HOME/tls)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--tls-client-ca <file>', 'also let in TCP clients with a certificate this CA signed (role: the subject OU, viewer|deployer|admin)')
    .option('--http-port <port>', 'port of the HTTP ingress for services with x-baton.domain (default $BATON_HTTP_PORT, else 80 as root, 8080 otherwise)')
    .option('--https-port <port>', 'port of the HTTPS ingress (default $BATON_HTTPS_PORT, else 443 as root, 8443 otherwise)')
    .option('--acme-directory <url>', "ACME server for x-baton.tls: acme (default: Let's Encrypt; $BATON_ACME_DIRECTORY)")
    .option('--acme-email <email>', 'contact address for the ACME account')
    .option('--acme-ca <file>', "PEM to trust for the ACME server's own HTTPS (a test server such as pebble)")
    .option('--service-subnet <cidr>', `${SERVICE_SUBNET_HELP} (default: ${DEFAULT_SERVICE_SUBNET} for baton manager, none for baton daemon)`)
    .option('--service-addresses', 'give each service a loopback address where process tasks reach it by name at its target port (takes those ports on every address; $BATON_SERVICE_NAMES=1)');
}

export function portFlag(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(Number.isInteger(n) && n > 0 && n < 65536)) throw new UserError(`${flag}: expected a port number, got "${v}"`);
  return n;
}

/** Runs a daemon in the foreground until SIGTERM/SIGINT, which stop it and its tasks. */
export async function runDaemon(flags: DaemonFlags, cluster?: DaemonOptions['cluster'], extra: Pick<DaemonOptions, 'autolock'> = {}): Promise<void> {
  const httpPort = portFlag('--http-port', flags.httpPort);
  const httpsPort = portFlag('--https-port', flags.httpsPort);
  const token = flags.token ?? process.env.BATON_TOKEN;
  if (flags.listen && !token) throw new UserError('--listen needs a token (--token or BATON_TOKEN): the TCP API is never open without one');
  // The daemon is the composition root: only these commands load it.
  const { startDaemon, batonHome, AlreadyRunningError, SubnetError } = await import('../../daemon/index.js');
  const serviceSubnet = serviceSubnetFlag(flags.serviceSubnet, cluster !== undefined);
  let d;
  try {
    d = await startDaemon({ home: batonHome(), listen: flags.listen, token, tlsCert: flags.tlsCert, tlsKey: flags.tlsKey, tlsClientCa: flags.tlsClientCa, httpPort, httpsPort, acmeDirectory: flags.acmeDirectory, acmeEmail: flags.acmeEmail, acmeCa: flags.acmeCa, cluster, ...(flags.serviceAddresses ? { serviceNames: true } : {}), ...(serviceSubnet ? { serviceSubnet } : {}), ...extra });
  } catch (err) {
    if (err instanceof AlreadyRunningError) throw new UserError(err.message);
    if (err instanceof SubnetError) throw new UserError(`--service-subnet: ${err.message}`);
    throw err;
  }
  stopOnSignals('the daemon', d);
}

/** SIGTERM or SIGINT stop a foreground daemon or agent and its tasks, then exit 0. */
export function stopOnSignals(what: string, running: { close(o: { stopTasks: boolean }): Promise<void> }): void {
  const stop = (sig: string): void => {
    process.stderr.write(`${sig}: stopping ${what} and its tasks\n`);
    void running.close({ stopTasks: true }).then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

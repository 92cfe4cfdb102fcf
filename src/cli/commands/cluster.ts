import { collect } from '../project.js';
// A cluster as Swarm users run one: `baton manager` (like `docker swarm init`),
// `baton agent --join` (like `docker swarm join`), `baton join-token`, `baton node`.
import type { Command } from 'commander';
import { hostname } from 'node:os';
import type { NodeInfo } from '../../model/types.js';
import { joinHostPort, parseHostPort } from '../../model/address.js';
import { parseDuration } from '../../spec/duration.js';
import { connection } from '../connect.js';
import { UserError } from '../errors.js';
import { ago, bytes, capitalize, table } from '../format.js';
import { DEFAULT_SERVICE_SUBNET, SERVICE_SUBNET_HELP, daemonOptions, portFlag, runDaemon, serviceSubnetFlag, stopOnSignals, type DaemonFlags } from './misc.js';

const DEFAULT_NODE_PORT = 2377;

function duration(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0) throw new UserError(`${flag}: expected a duration such as 3s or 500ms, got "${v}"`);
  return ms;
}

function hostPort(flag: string, v: string, defaultPort: number): string {
  const hp = parseHostPort(v, defaultPort);
  if (!hp || !hp.host) throw new UserError(`${flag}: expected HOST[:PORT] with a port from 1 to 65535, got "${v}"`);
  return joinHostPort(hp.host, hp.port);
}

function labelPairs(flag: string, list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UserError(`${flag}: expected KEY=VALUE, got "${kv}"`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}


/**
 * Cluster commands talk to a manager that runs; they never start a daemon of
 * their own, which could take the home from a manager still starting.
 */
function managerClient(): ReturnType<typeof connection>['client'] {
  return connection().client;
}

export function clusterCommands(program: Command): void {
  daemonOptions(
    program
      .command('manager')
      .description('Run a cluster manager in the foreground: the daemon (store, controllers, scheduler, API, an agent) plus the port nodes join at')
      .option('--listen-addr <host:port>', `where nodes join and talk to the manager (mutual TLS), default 0.0.0.0:${DEFAULT_NODE_PORT}`)
      .option('--advertise-addr <ip>', 'the address other nodes reach this one at (default: the listen address, else the first non-loopback IPv4)')
      .option('--heartbeat-timeout <duration>', 'a node not heard from for this long is down and its tasks are moved', '3s')
      .option('--autolock', 'keep the cluster key locked under an unlock key, printed once; a restarted manager waits for baton unlock'),
  ).action(async (flags: DaemonFlags & { listenAddr?: string; advertiseAddr?: string; heartbeatTimeout: string; autolock?: boolean }) => {
    await runDaemon(
      flags,
      {
        listen: hostPort('--listen-addr', flags.listenAddr ?? `0.0.0.0:${DEFAULT_NODE_PORT}`, DEFAULT_NODE_PORT),
        advertiseAddr: flags.advertiseAddr,
        downAfterMs: duration('--heartbeat-timeout', flags.heartbeatTimeout),
      },
      flags.autolock
        ? {
            autolock: {
              // On stdout, once, as `docker swarm init --autolock` does; never into the daemon's log.
              onUnlockKey: (key) =>
                process.stdout.write(`To unlock a restarted manager, run baton unlock and give it this key:\n\n    ${key}\n\nKeep it safe: without it a restarted manager cannot read its secrets.\n`),
            },
          }
        : {},
    );
  });

  program
    .command('agent')
    .description('Run a worker node in the foreground: joins a manager once, then runs the tasks it is given')
    .option('--join <host:port>', `a manager's node port (default port ${DEFAULT_NODE_PORT}); needed the first time`)
    .option('--token <token>', 'join token from baton join-token worker|manager; needed the first time ($BATON_JOIN_TOKEN)')
    .option('--advertise-addr <ip>', 'the address other nodes reach this one at (default: as the manager sees it)')
    .option('--label <key=value>', 'a node label for placement constraints (node.labels.KEY); repeatable', collect, [])
    .option('--heartbeat <duration>', 'how often to tell the manager this node is alive', '1s')
    .option('--node-port <port>', "this node's own port, where managers read its tasks' logs and stats (default: any free port)")
    .option('--driver <name>', 'offer only these drivers (process, docker, hollow); repeatable', collect, [])
    .option('--service-addresses', 'process tasks reach services by name (see baton daemon --help); $BATON_SERVICE_NAMES=1')
    .option('--service-subnet <cidr>', `${SERVICE_SUBNET_HELP} (default: ${DEFAULT_SERVICE_SUBNET})`)
    .option('--http-port <port>', 'port of the HTTP ingress on this node')
    .option('--https-port <port>', 'port of the HTTPS ingress on this node')
    .action(async (flags: { join?: string; token?: string; advertiseAddr?: string; label: string[]; heartbeat: string; nodePort?: string; driver: string[]; serviceAddresses?: boolean; serviceSubnet?: string; httpPort?: string; httpsPort?: string }) => {
      const { startAgentNode, batonHome, AlreadyRunningError, JoinError, SubnetError } = await import('../../daemon/index.js');
      const serviceSubnet = serviceSubnetFlag(flags.serviceSubnet, true);
      let node;
      try {
        node = await startAgentNode({
          home: batonHome(),
          join: flags.join === undefined ? undefined : hostPort('--join', flags.join, DEFAULT_NODE_PORT),
          token: flags.token ?? process.env.BATON_JOIN_TOKEN,
          advertiseAddr: flags.advertiseAddr,
          labels: labelPairs('--label', flags.label),
          heartbeatMs: duration('--heartbeat', flags.heartbeat),
          nodePort: portFlag('--node-port', flags.nodePort),
          ...(flags.serviceAddresses ? { serviceNames: true } : {}),
          ...(serviceSubnet ? { serviceSubnet } : {}),
          httpPort: portFlag('--http-port', flags.httpPort),
          httpsPort: portFlag('--https-port', flags.httpsPort),
          ...(flags.driver.length > 0 ? { drivers: flags.driver } : {}),
          onRemoved: () => process.exit(1),
        });
      } catch (err) {
        if (err instanceof AlreadyRunningError || err instanceof JoinError) throw new UserError(err.message);
        if (err instanceof SubnetError) throw new UserError(`--service-subnet: ${err.message}`);
        throw err;
      }
      stopOnSignals('the agent', node);
    });

  program
    .command('join-token <role>')
    .description('Print the command that joins a node as a worker or a manager')
    .option('--rotate', 'replace the token first: the old one no longer lets anyone join (joined nodes stay)')
    .option('-q, --quiet', 'only the token')
    .action(async (role: string, flags: { rotate?: boolean; quiet?: boolean }) => {
      if (role !== 'worker' && role !== 'manager') throw new UserError(`join-token: expected worker or manager, got "${role}"`);
      const client = managerClient();
      const r = await client.joinToken(role, flags.rotate === true);
      if (flags.quiet) process.stdout.write(r.token + '\n');
      else {
        if (flags.rotate) process.stdout.write(`Successfully rotated ${role} join token.\n\n`);
        process.stdout.write(`To add a ${role} to this cluster, run the following command:\n\n    baton agent --join ${r.manager} --token ${r.token}\n\n`);
      }
    });

  const node = program.command('node').description('Manage the nodes of the cluster');
  node
    .command('ls')
    .description('List nodes')
    .option('--format <format>', 'table or json', 'table')
    .option('-q, --quiet', 'only node ids')
    .action(async (flags: { format: string; quiet?: boolean }) => {
      const client = managerClient();
      const nodes = (await client.nodes()).sort((a, b) => (a.hostname === b.hostname ? (a.id < b.id ? -1 : 1) : a.hostname < b.hostname ? -1 : 1));
      if (flags.quiet) for (const n of nodes) process.stdout.write(n.id + '\n');
      else if (flags.format === 'json') process.stdout.write(JSON.stringify(nodes, null, 2) + '\n');
      else if (flags.format === 'table') {
        const rows = nodes.map((n) => [n.id, n.hostname, n.state === 'ready' ? 'Ready' : 'Down', capitalize(n.availability), n.role === 'manager' ? 'Manager' : '', n.address, Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(','), n.drivers.join(',')]);
        process.stdout.write(table(['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS', 'ADDRESS', 'LABELS', 'DRIVERS'], rows) + '\n');
      } else throw new UserError(`--format: expected table or json, got "${flags.format}"`);
    });
  node
    .command('inspect <node...>')
    .description('Show nodes in detail (id, id prefix or hostname; "self" for this one)')
    .option('--pretty', 'human-readable text instead of JSON')
    .action(async (refs: string[], flags: { pretty?: boolean }) => {
      const client = managerClient();
      const found: NodeInfo[] = [];
      for (const ref of refs) found.push(await client.node(ref === 'self' ? hostname() : ref));
      if (!flags.pretty) process.stdout.write(JSON.stringify(found, null, 2) + '\n');
      else for (const n of found) process.stdout.write(pretty(n) + '\n');
    });
  node
    .command('update <node>')
    .description('Change the availability, role or labels of a node')
    .option('--availability <state>', 'active, pause (no new tasks) or drain (tasks move elsewhere)')
    .option('--role <role>', 'worker or manager')
    .option('--label-add <key=value>', 'add or change a label; repeatable', collect, [])
    .option('--label-rm <key>', 'remove a label; repeatable', collect, [])
    .action(async (ref: string, flags: { availability?: string; role?: string; labelAdd: string[]; labelRm: string[] }) => {
      if (flags.availability !== undefined && !['active', 'pause', 'drain'].includes(flags.availability)) throw new UserError(`--availability: expected active, pause or drain, got "${flags.availability}"`);
      if (flags.role !== undefined && !['worker', 'manager'].includes(flags.role)) throw new UserError(`--role: expected worker or manager, got "${flags.role}"`);
      const client = managerClient();
      const n = await client.updateNode(ref, {
        ...(flags.availability ? { availability: flags.availability as NodeInfo['availability'] } : {}),
        ...(flags.role ? { role: flags.role as NodeInfo['role'] } : {}),
        ...(flags.labelAdd.length > 0 ? { labelAdd: labelPairs('--label-add', flags.labelAdd) } : {}),
        ...(flags.labelRm.length > 0 ? { labelRm: flags.labelRm } : {}),
      });
      process.stdout.write(n.id + '\n');
    });
  node
    .command('rm <node...>')
    .description('Remove nodes from the cluster: their certificates are refused from then on')
    .option('-f, --force', 'remove a node that is still up (its tasks move elsewhere)')
    .action(async (refs: string[], flags: { force?: boolean }) => {
      const client = managerClient();
      for (const ref of refs) process.stdout.write((await client.removeNode(ref, flags.force === true)).removed + '\n');
    });
  node
    .command('ps [node]')
    .description('List the tasks running on a node (default: every node)')
    .option('--format <format>', 'table or json', 'table')
    .action(async (ref: string | undefined, flags: { format: string }) => {
      const client = managerClient();
      const nodes = await client.nodes();
      const chosen = ref === undefined ? undefined : await client.node(ref);
      const names = new Map(nodes.map((n) => [n.id, n.hostname]));
      const tasks = [];
      for (const p of await client.projects()) {
        const st = await client.status(p.name, false);
        for (const t of st.tasks) if (t.node && (!chosen || t.node === chosen.id) && t.desiredState === 'running') tasks.push(t);
      }
      if (flags.format === 'json') process.stdout.write(JSON.stringify(tasks, null, 2) + '\n');
      else if (flags.format === 'table') {
        const rows = tasks.map((t) => [t.id.slice(0, 12), `${t.project}_${t.service}.${t.slot}`, names.get(t.node!) ?? t.node!, capitalize(t.desiredState), `${capitalize(t.state)} ${ago(t.startedAt ?? t.updatedAt)} ago`, t.error ?? '']);
        process.stdout.write(table(['ID', 'NAME', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR'], rows) + '\n');
      } else throw new UserError(`--format: expected table or json, got "${flags.format}"`);
    });
}


function pretty(n: NodeInfo): string {
  return [
    `ID:\t\t\t${n.id}`,
    `Hostname:\t\t${n.hostname}`,
    `Joined at:\t\t${n.joinedAt ?? '(this manager)'}`,
    'Status:',
    ` State:\t\t\t${capitalize(n.state)}${n.message ? ` (${n.message})` : ''}`,
    ` Availability:\t\t${capitalize(n.availability)}`,
    ` Address:\t\t${n.address}`,
    ` Last heartbeat:\t${n.heartbeatAt}`,
    `Role:\t\t\t${n.role}`,
    `Labels:${Object.keys(n.labels).length === 0 ? '\t\t(none)' : ''}`,
    ...Object.entries(n.labels).map(([k, v]) => ` - ${k}=${v}`),
    'Resources:',
    ` CPUs:\t\t\t${n.capacity.cpus}`,
    ` Memory:\t\t${bytes(n.capacity.memoryBytes)}`,
    `Drivers:\t\t${n.drivers.join(', ')}`,
    ...(n.version ? [`Version:\t\t${n.version}`] : []),
  ].join('\n');
}

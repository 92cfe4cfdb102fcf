import type { Command } from 'commander';
import type { UpdateConfig } from '../../spec/types.js';
import type { ServiceUpdateRequest } from '../../api/index.js';
import { ensureDaemon } from '../connect.js';
import { UserError } from '../errors.js';
import { ago, table } from '../format.js';
import { projectFlags, projectName, projectOptions, type ProjectFlags } from '../project.js';
import { waitReady } from './up.js';
import { shellSplit } from '../../spec/index.js';

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

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

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

/** `baton service ...`: Swarm's per-service commands on a project's services. */
export function serviceCommands(program: Command): void {
  const service = program.command('service').description('Inspect, update and roll back one service of a project');

  projectOptions(service.command('history <service>').description('List the revisions of a service and what changed in each')).action(
    async (name: string, _o: unknown, cmd: Command) => {
      const flags = projectFlags(cmd);
      const project = await projectName(flags);
      const revs = await (await ensureDaemon()).serviceHistory(project, name);
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
    const project = await projectName(f);
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
    const r = await client.serviceUpdate(project, name, req);
    const what = r.updated.includes(name) ? 'Updating' : 'Unchanged';
    process.stdout.write(` ✔ Service ${name.padEnd(20)} ${what}\n`);
    if (!f.detach && r.updated.includes(name)) await waitReady(client, project, Number(f.timeout ?? 600) * 1000);
  });

  projectOptions(
    service
      .command('rollback <service>')
      .description("Return a service to its previous revision, rolled out with its rollback_config")
      .option('-d, --detach', 'return at once instead of following the rollback')
      .option('--timeout <seconds>', 'how long to follow the rollback', '600'),
  ).action(async (name: string, _o: unknown, cmd: Command) => {
    const f = projectFlags<ProjectFlags & { detach?: boolean; timeout?: string }>(cmd);
    const project = await projectName(f);
    const client = await ensureDaemon();
    const r = await client.serviceRollback(project, name);
    process.stdout.write(` ✔ Service ${name.padEnd(20)} Rolling back to revision ${r.to}\n`);
    if (!f.detach) await waitReady(client, project, Number(f.timeout ?? 600) * 1000, { rollbackIsFailure: false });
  });
}

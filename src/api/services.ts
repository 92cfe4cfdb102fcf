import type { ServiceConfig } from '../spec/types.js';
import type { Service, ServiceRevision } from '../model/types.js';
import { keys } from '../model/keys.js';
import { specHash } from '../model/service.js';
import { revisionRecord, rollbackRecord } from '../model/revision.js';
import { now } from '../model/time.js';
import type { Store } from '../store/store.js';
import { ConflictError } from '../store/store.js';
import { deployProject } from './deploy.js';
import { ApiError, badRequest, notFound } from './errors.js';
import type { ApiHooks, DeployResult, RevisionSummary, ServiceUpdateRequest } from './types.js';

/** `baton restart`: new tasks everywhere at once, without a spec change (Swarm's `--force`, Compose's restart). */
export function forcedRestart(s: Service): Service {
  const forceUpdate = s.forceUpdate + 1;
  const { updateStatus: _u, ...rest } = s;
  return { ...rest, stopped: false, revision: s.revision + 1, forceUpdate, specHash: specHash({ ...s, forceUpdate }) };
}

/** The history entry `restart` writes next to the restarted record. */
export function restartRevision(s: Service): ServiceRevision {
  return revisionRecord(s, undefined, 'restart', now());
}

export async function serviceHistory(store: Store, project: string, name: string): Promise<RevisionSummary[]> {
  const svc = await store.get('service', keys.service(project, name));
  if (!svc) throw notFound(`service "${name}" in project "${project}"`);
  const revs = await store.list('revision', keys.revisionPrefix(project, name));
  return revs.map(({ value: r }) => ({
    revision: r.revision,
    cause: r.cause,
    changes: r.changes,
    image: r.record.spec.image,
    createdAt: r.createdAt,
    current: r.revision === svc.value.revision,
  }));
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * `baton service update`: the project's Compose spec with one service changed,
 * deployed like any `up`, so it is checked the same way and rolls out with the
 * service's update_config. A later `up` of the files replaces it, as a stack
 * deploy does after `docker service update`.
 */
export async function updateService(store: Store, hooks: ApiHooks, project: string, name: string, req: ServiceUpdateRequest): Promise<DeployResult> {
  const p = await store.get('project', keys.project(project));
  if (!p) throw notFound(`project "${project}"`);
  const cur = p.value.spec.services[name];
  if (!cur) throw notFound(`service "${name}" in project "${project}"`);
  const cfg: ServiceConfig = structuredClone(cur);
  if (req.image !== undefined) {
    if (typeof req.image !== 'string' || req.image === '') throw badRequest('image: expected an image reference');
    cfg.image = req.image;
  }
  const env = { ...cfg.environment };
  for (const kv of req.envAdd ?? []) {
    const i = kv.indexOf('=');
    const k = i < 0 ? kv : kv.slice(0, i);
    if (!ENV_NAME.test(k)) throw badRequest(`env-add: "${kv}" is not NAME=VALUE`);
    env[k] = i < 0 ? null : kv.slice(i + 1);
  }
  for (const k of req.envRm ?? []) delete env[k];
  cfg.environment = env;
  if (req.command !== undefined) cfg.command = req.command;
  if (req.replicas !== undefined) {
    if (!Number.isInteger(req.replicas) || req.replicas < 0) throw badRequest('replicas: must be a whole number >= 0');
    cfg.deploy = { ...cfg.deploy, replicas: req.replicas };
    delete cfg.scale;
  }
  if (req.updateConfig) cfg.deploy = { ...cfg.deploy, update_config: { ...cfg.deploy?.update_config, ...req.updateConfig } };
  if (req.rollbackConfig) cfg.deploy = { ...cfg.deploy, rollback_config: { ...cfg.deploy?.rollback_config, ...req.rollbackConfig } };
  const spec = { ...p.value.spec, services: { ...p.value.spec.services, [name]: cfg } };
  if (req.force) {
    const s = await store.get('service', keys.service(project, name));
    if (s) await store.commit([{ type: 'put', kind: 'service', key: s.key, value: { ...s.value, forceUpdate: s.value.forceUpdate + 1 }, expect: s.version }]);
  }
  return deployProject(store, hooks, spec, false);
}

/** `baton service rollback`: back to the revision the last update started from (or the one before), rolled out with rollback_config. */
export async function rollbackService(store: Store, project: string, name: string): Promise<{ revision: number; to: number }> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const cur = await store.get('service', keys.service(project, name));
    if (!cur) throw notFound(`service "${name}" in project "${project}"`);
    const svc = cur.value;
    const revs = (await store.list('revision', keys.revisionPrefix(project, name))).map((v) => v.value);
    const target =
      (svc.updateStatus && !svc.updateStatus.state.startsWith('rollback') ? revs.find((r) => r.revision === svc.updateStatus!.from) : undefined) ??
      [...revs].reverse().find((r) => r.revision < svc.revision && r.specHash !== svc.specHash);
    if (!target) throw new ApiError(409, 'no-previous', `service "${name}" has no earlier revision to roll back to`);
    const { service, revision } = rollbackRecord(svc, target, 'requested by the user', now());
    const p = await store.get('project', keys.project(project));
    const ops: Parameters<Store['commit']>[0] = [
      { type: 'put', kind: 'service', key: cur.key, value: service, expect: cur.version },
      { type: 'put', kind: 'revision', key: keys.revision(project, name, revision.revision), value: revision },
    ];
    // The project's spec follows, so `config`-like views and a later `service update` start from what runs.
    if (p) ops.push({ type: 'put', kind: 'project', key: p.key, value: { ...p.value, spec: { ...p.value.spec, services: { ...p.value.spec.services, [name]: target.record.spec } } }, expect: p.version });
    try {
      await store.commit(ops);
      await store.appendEvents([{ type: 'service.rollback', project, service: name, message: `rolling back to revision ${target.revision} (as revision ${service.revision})` }]);
      return { revision: service.revision, to: target.revision };
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  throw new ApiError(409, 'conflict', 'the service kept changing; try again');
}

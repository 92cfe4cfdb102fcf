import type { Service, ServiceRevision } from './types.js';
import { changedKeys } from './service.js';

/** The history entry for a service record just written. */
export function revisionRecord(svc: Service, prev: Service | undefined, cause: ServiceRevision['cause'], time: string): ServiceRevision {
  const { updateStatus: _u, ...record } = svc;
  return {
    project: svc.project,
    service: svc.name,
    revision: svc.revision,
    specHash: svc.specHash,
    cause,
    changes: cause === 'restart' ? ['(forced restart)'] : withFileChanges(changedKeys(prev?.spec, svc.spec), prev, svc),
    record: record as Service,
    createdAt: time,
  };
}

/**
 * A service whose tasks changed starts a rolling update from the revision it
 * had; a first deploy, or a change that leaves the tasks as they are, does not.
 */
export function withUpdate(next: Service, prev: Service | undefined, time: string): Service {
  if (!prev || prev.specHash === next.specHash) return next;
  return {
    ...next,
    updateStatus: { state: 'updating', from: prev.revision, to: next.revision, startedAt: time, message: `updating to revision ${next.revision}`, failed: [] },
  };
}

/** The service put back as it was at `rec`, under a new revision, rolling back with its rollback_config. */
export function rollbackRecord(svc: Service, rec: ServiceRevision, reason: string, time: string): { service: Service; revision: ServiceRevision } {
  const revision = svc.revision + 1;
  const service: Service = {
    ...rec.record,
    revision,
    // Scaling is not part of an update: the current count stays.
    replicas: svc.replicas,
    stopped: svc.stopped,
    createdAt: svc.createdAt,
    updatedAt: time,
    updateStatus: {
      state: 'rollback_started',
      from: svc.revision,
      to: revision,
      startedAt: time,
      message: `rolling back to revision ${rec.revision}: ${reason}`,
      failed: [],
    },
  };
  return { service, revision: { ...revisionRecord(service, svc, 'rollback', time) } };
}

/** A secret or config whose value changed shows as a change of `secrets`/`configs`, though the spec reads the same. */
function withFileChanges(changes: string[], prev: Service | undefined, svc: Service): string[] {
  if (!prev) return changes;
  const out = [...changes];
  for (const [kind, key] of [['secret', 'secrets'], ['config', 'configs']] as const) {
    const ids = (s: Service): string => (s.files ?? []).filter((f) => f.kind === kind).map((f) => `${f.key}>${f.target}`).sort().join(',');
    if (!out.includes(key) && ids(prev) !== ids(svc)) out.push(key);
  }
  return out;
}

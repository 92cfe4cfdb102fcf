import type { ComposeProject } from '../spec/types.js';
import type { FileSources } from '../spec/sources.js';
import { resolveFiles, unusedProjectBlobs } from './blobs.js';
import type { Project, Service } from '../model/types.js';
import { keys } from '../model/keys.js';
import { buildService, serviceDriver, ServiceSpecError, targetPorts } from '../model/service.js';
import { now } from '../model/time.js';
import { revisionRecord, withUpdate } from '../model/revision.js';
import type { Op, Store } from '../store/store.js';
import { ApiError, badRequest, type ApiProblem } from './errors.js';
import type { ApiHooks, DeployResult } from './types.js';
import { registryOf, type RegistryAuth } from '../model/image-ref.js';
import { registryAuthLabel } from '../controllers/index.js';
import { unappliedKeys } from '../model/unapplied.js';

const PROJECT_NAME = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * Stores a new revision of a project and its services in one commit, after
 * every check that could fail has passed: a rejected deploy changes nothing.
 * Services whose spec is unchanged keep their revision, so their tasks live on.
 */
export async function deployProject(store: Store, hooks: ApiHooks, compose: ComposeProject, removeOrphans = false, sources: FileSources = { secrets: {}, configs: {} }, registryAuth?: Record<string, RegistryAuth>): Promise<DeployResult> {
  if (!compose || typeof compose !== 'object' || typeof compose.name !== 'string' || !compose.services) {
    throw badRequest('project: expected a normalized Compose project with name and services');
  }
  if (!PROJECT_NAME.test(compose.name)) throw badRequest(`project name "${compose.name}" must be lowercase letters, digits, "_" or "-", starting with a letter or digit`);
  const time = now();
  const projectKey = keys.project(compose.name);
  const prevProject = await store.get('project', projectKey);
  const prevServices = new Map((await store.list('service', keys.servicePrefix(compose.name))).map((v) => [v.value.name, v]));
  const problems: ApiProblem[] = [];
  const drivers = hooks.drivers();
  const services: Service[] = [];
  // Ports other projects already publish are not free for this one.
  const takenElsewhere = new Map<number, string>();
  for (const v of await store.list('service')) {
    if (v.value.project === compose.name) continue;
    for (const p of v.value.ports) {
      if (p.published !== undefined) takenElsewhere.set(p.published, `${v.value.project}/${v.value.name}`);
    }
  }
  const ownPorts = new Set<number>();
  for (const v of prevServices.values()) for (const p of v.value.ports) if (p.published !== undefined) ownPorts.add(p.published);
  const publishedHere = new Map<string, string>();
  // New versions of secrets and configs are written in the same commit as the services that use them.
  const blobOps: Op[] = [];
  const currentFiles = new Map<string, string>();
  for (const v of prevServices.values()) for (const f of v.value.files ?? []) currentFiles.set(`${f.kind}:${f.source}`, f.key);

  for (const cfg of Object.values(compose.services)) {
    const driver = serviceDriver(cfg, compose, hooks.defaultDriver(cfg));
    if (!drivers.includes(driver)) {
      problems.push({ service: cfg.name, path: `services.${cfg.name}.x-baton.driver`, message: `driver "${driver}" is not available here (available: ${drivers.join(', ')})` });
      continue;
    }
    try {
      const prev = prevServices.get(cfg.name)?.value;
      const vipPorts = new Map<string, number>();
      for (const p of targetPorts(cfg)) {
        const k = `${p.target}/${p.protocol}`;
        const kept = prev?.ports.find((x) => `${x.target}/${x.protocol}` === k)?.vipPort;
        vipPorts.set(k, kept ?? (await hooks.allocatePort()));
        if (p.published !== undefined) {
          const other = takenElsewhere.get(p.published);
          if (other) problems.push({ service: cfg.name, path: `services.${cfg.name}.ports`, message: `port ${p.published} is already published by ${other}` });
          const dup = publishedHere.get(`${p.published}/${p.protocol}`);
          if (dup) problems.push({ service: cfg.name, path: `services.${cfg.name}.ports`, message: `port ${p.published} is also published by service ${dup}` });
          publishedHere.set(`${p.published}/${p.protocol}`, cfg.name);
        }
      }
      const files = await resolveFiles(store, hooks, compose, cfg, sources, currentFiles, blobOps, problems);
      const image = typeof cfg.image === 'string' ? cfg.image : undefined;
      // Credentials sent now make a version for the service (new ones roll its tasks); a deploy without them keeps the stored ones.
      const sent = image && registryAuth ? registryAuth[registryOf(image)] : undefined;
      const authVersion = registryAuth ? (sent ? hooks.blobVersion(Buffer.from(JSON.stringify(sent))) : undefined) : prev?.registryAuth;
      const svc = withUpdate(buildService(compose, cfg, { driver, vipPorts, files, prev, time, ...(authVersion ? { registryAuth: authVersion } : {}) }), prev, time);
      services.push(svc);
    } catch (err) {
      if (err instanceof ServiceSpecError) problems.push({ service: err.service, message: err.message });
      else throw err;
    }
  }
  // One host and path prefix goes to one service.
  const routedElsewhere = new Map<string, string>();
  for (const v of await store.list('service')) {
    if (v.value.project === compose.name) continue;
    for (const d of v.value.ingress?.domains ?? []) routedElsewhere.set(`${d}${v.value.ingress!.path}`, `${v.value.project}/${v.value.name}`);
  }
  const routedHere = new Map<string, string>();
  for (const svc of services) {
    for (const d of svc.ingress?.domains ?? []) {
      const k = `${d}${svc.ingress!.path}`;
      const other = routedElsewhere.get(k) ?? routedHere.get(k);
      if (other) problems.push({ service: svc.name, path: `services.${svc.name}.x-baton.domain`, message: `${k} is already routed to ${other}` });
      routedHere.set(k, `${svc.project}/${svc.name}`);
    }
  }
  if (problems.length === 0) problems.push(...(await hooks.preflight(services, ownPorts)));
  if (problems.length > 0) {
    throw new ApiError(400, 'rejected', `project "${compose.name}" was not deployed; nothing was changed`, problems);
  }

  const project: Project = {
    name: compose.name,
    revision: (prevProject?.value.revision ?? 0) + 1,
    workingDir: compose.workingDir,
    files: compose.files,
    spec: compose,
    createdAt: prevProject?.value.createdAt ?? time,
    updatedAt: time,
  };
  const ops: Op[] = [{ type: 'put', kind: 'project', key: projectKey, value: project, expect: prevProject?.version ?? 0 }, ...blobOps];
  if (registryAuth && Object.keys(registryAuth).length > 0) {
    const sealed = hooks.seal(Buffer.from(JSON.stringify(registryAuth)), registryAuthLabel(compose.name));
    ops.push({ type: 'put', kind: 'registryAuth', key: keys.registryAuth(compose.name), value: { project: compose.name, registries: Object.keys(registryAuth).sort(), sealed, updatedAt: time } });
  }
  const result: DeployResult = { project: compose.name, revision: project.revision, created: [], updated: [], unchanged: [], removed: [], orphans: [] };
  for (const cfg of Object.values(compose.services)) {
    const warn = (w: string): void => void (result.warnings ??= []).push(`service "${cfg.name}": ${w}`);
    if (cfg.network_mode === 'host' && cfg.ports.some((p) => p.published !== undefined && p.published !== '')) {
      warn("published ports are discarded when using host network mode (the container listens on the host's own ports)");
    }
    const unapplied = unappliedKeys(cfg, services.find((s) => s.name === cfg.name)?.driver ?? '');
    if (unapplied.length > 0) warn(`${unapplied.join(', ')} ${unapplied.length === 1 ? 'is' : 'are'} not applied by baton and ignored`);
  }
  for (const svc of services) {
    const prev = prevServices.get(svc.name);
    if (!prev) result.created.push(svc.name);
    else if (prev.value.revision !== svc.revision) result.updated.push(svc.name);
    else {
      result.unchanged.push(svc.name);
      // `up` also scales and restarts a stopped service; only then is the record rewritten.
      if (prev.value.replicas === svc.replicas && !prev.value.stopped) continue;
    }
    ops.push({ type: 'put', kind: 'service', key: keys.service(svc.project, svc.name), value: svc, expect: prev?.version ?? 0 });
    if (!prev || prev.value.revision !== svc.revision) {
      ops.push({ type: 'put', kind: 'revision', key: keys.revision(svc.project, svc.name, svc.revision), value: revisionRecord(svc, prev?.value, 'deploy', time) });
    }
  }
  for (const [name, prev] of prevServices) {
    if (compose.services[name]) continue;
    if (removeOrphans) {
      ops.push({ type: 'delete', kind: 'service', key: prev.key, expect: prev.version });
      for (const r of await store.list('revision', keys.revisionPrefix(compose.name, name))) ops.push({ type: 'delete', kind: 'revision', key: r.key });
      result.removed.push(name);
    } else result.orphans.push(name);
  }
  const inUse = new Set(services.flatMap((s) => s.files.map((f) => f.key)));
  for (const [name, prev] of prevServices) if (!compose.services[name] && !removeOrphans) for (const f of prev.value.files ?? []) inUse.add(f.key);
  const written = new Set(blobOps.map((o) => o.key));
  ops.push(...(await unusedProjectBlobs(store, compose.name, inUse)).filter((o) => !written.has(o.key)));
  await store.commit(ops);
  await store.appendEvents([{ type: 'project.deploy', project: compose.name, message: `revision ${project.revision}: ${describe(result)}` }]);
  return result;
}

function describe(r: DeployResult): string {
  const parts: string[] = [];
  if (r.created.length) parts.push(`created ${r.created.join(', ')}`);
  if (r.updated.length) parts.push(`updated ${r.updated.join(', ')}`);
  if (r.removed.length) parts.push(`removed ${r.removed.join(', ')}`);
  return parts.join('; ') || 'no change';
}

import type { ApiClient, BuildEvent, PullEvent, PushEvent } from '../api/index.js';
import type { ComposeProject } from '../spec/types.js';
import { UserError } from './errors.js';
import { allCredentials, credentialsForImages } from './docker-config.js';
import type { RegistryAuth } from '../model/image-ref.js';
import type { BuildFlags } from '../model/build-options.js';
import { ApiRequestError } from '../api/client.js';
import { withPositions } from './positions.js';

/** Credential troubles are said, not fatal: a public image still pulls without them. */
const warn = (msg: string): void => void process.stderr.write(`warning: ${msg}\n`);

/**
 * Builds the images of services with `build:` through the daemon, printing
 * the builder's output under each service's name; all of them with `force`,
 * else only images not there yet (what `up` does). Throws naming the service
 * (and, for an option the builder cannot take, the file and line of its key
 * in `source`, the project as loaded). A remote daemon cannot read this
 * machine's folders: each context that needs building is packed here
 * (.dockerignore applied) and sent along.
 */
export async function buildImages(client: ApiClient, project: ComposeProject, services: string[], force: boolean, flags: BuildFlags = {}, source: ComposeProject = project, out: NodeJS.WritableStream = process.stdout): Promise<string[]> {
  let current = '';
  const built: string[] = [];
  let failure: { service: string; message: string } | undefined;
  const onEvent = (e: BuildEvent): void => {
    if ('line' in e) {
      if (e.service !== current) out.write(`#${e.service} Building\n`);
      current = e.service;
      out.write(`#${e.service} ${e.line}\n`);
    } else if ('built' in e) built.push(...e.built);
    else if ('error' in e) failure = e.error;
  };
  // What needs building first: logins are read (and credential helpers run) only when something does.
  const plan = await client.buildPlan({ project, services, force, ...flags }).catch((err: unknown) => {
    throw err instanceof ApiRequestError ? withPositions(err, source) : err;
  });
  if (plan.length === 0) return [];
  const logins = allCredentials(warn);
  const auth = Object.keys(logins).length > 0 ? { auth: logins } : {};
  if (!client.remote) await client.build({ project, services: plan, force, ...flags, ...auth }, onEvent);
  else {
    // Packing (tar-fs) only when a context travels to a remote daemon.
    const { BuildContextError, packContext } = await import('../model/build-context.js');
    for (const name of plan) {
      const b = project.services[name].build!;
      let tar: NodeJS.ReadableStream;
      try {
        ({ tar } = packContext({ context: b.context, dockerfile: b.dockerfile ?? 'Dockerfile', ...(typeof b.dockerfile_inline === 'string' ? { dockerfileInline: b.dockerfile_inline } : {}) }));
      } catch (err) {
        if (err instanceof BuildContextError) throw new UserError(`service "${name}": ${err.message}`);
        throw err;
      }
      // Already known to need it: built whatever the daemon finds by now.
      await client.buildFrom({ project, services: [name], force: true, ...flags, ...auth }, tar, onEvent);
      if (failure) break;
    }
  }
  if (failure) throw new UserError(`${failure.service ? `service "${failure.service}": ` : ''}build failed: ${failure.message}`);
  for (const s of built) out.write(` ✔ Service ${s.padEnd(20)} Built\n`);
  return built;
}

/** This user's credentials for the registries of these services' images (all services when none named). */
function imageCredentials(project: ComposeProject, services: string[]): Record<string, RegistryAuth> {
  const names = services.length > 0 ? services : Object.keys(project.services);
  return credentialsForImages(names.map((s) => project.services[s]?.image).filter((i): i is string => typeof i === 'string'), warn);
}

/** `--with-registry-auth`: this user's credentials for the registries of the project's images, to keep with the deploy. */
export function deployCredentials(project: ComposeProject): Record<string, RegistryAuth> {
  return imageCredentials(project, []);
}

/**
 * Follows a pull or push stream: progress under each service's name, then
 * what was done (or a UserError naming the service that failed).
 */
async function followImages(send: (onEvent: (e: PullEvent | PushEvent) => void) => Promise<void>, key: 'pulled' | 'pushed', verb: string, out: NodeJS.WritableStream = process.stdout): Promise<string[]> {
  let failure: { service: string; message: string } | undefined;
  let done: string[] = [];
  await send((e) => {
    if ('line' in e) out.write(`#${e.service} ${e.line}\n`);
    else if ('error' in e) failure = e.error;
    else if (key === 'pulled' && 'pulled' in e) done = e.pulled;
    else if (key === 'pushed' && 'pushed' in e) done = e.pushed;
  });
  if (failure) throw new UserError(`${failure.service ? `service "${failure.service}": ` : ''}${failure.message}`);
  for (const s of done) out.write(` ✔ Service ${s.padEnd(20)} ${verb}\n`);
  return done;
}

/**
 * Pulls the images of services through the daemon, printing progress under
 * each service's name; with `missingOnly` (what `up` does) only images not
 * here yet. Throws naming the service.
 */
export async function pullImages(client: ApiClient, project: ComposeProject, services: string[], missingOnly: boolean, out: NodeJS.WritableStream = process.stdout): Promise<string[]> {
  if (missingOnly) {
    // What `up` must pull, first: with nothing missing, no Docker config is read and no credential helper runs.
    let needed: string[] = [];
    await client.pull({ project, services, missingOnly, plan: true }, (e) => {
      if ('needed' in e) needed = e.needed;
    });
    if (needed.length === 0) return [];
    services = needed;
  }
  const auth = imageCredentials(project, services);
  return followImages((onEvent) => client.pull({ project, services, missingOnly, ...(Object.keys(auth).length > 0 ? { auth } : {}) }, onEvent), 'pulled', 'Pulled', out);
}

/**
 * Pushes the images of services that name one (`image:`) through the
 * daemon's engine, each with this user's credentials for its registry,
 * printing progress under each service's name. Throws naming the service.
 */
export async function pushImages(client: ApiClient, project: ComposeProject, services: string[]): Promise<string[]> {
  const auth = imageCredentials(project, services);
  return followImages((onEvent) => client.push({ project, services, ...(Object.keys(auth).length > 0 ? { auth } : {}) }, onEvent), 'pushed', 'Pushed');
}

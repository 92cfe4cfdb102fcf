import type { ApiClient, BuildEvent } from '../api/index.js';
import type { ComposeProject } from '../spec/types.js';
import { UserError } from './errors.js';
import { allCredentials, credentialsForImages } from './docker-config.js';
import type { RegistryAuth } from '../model/image-ref.js';

/**
 * Builds the images of services with `build:` through the daemon, printing
 * the builder's output under each service's name; all of them with `force`,
 * else only images not there yet (what `up` does). Throws naming the service.
 * A remote daemon cannot read this machine's folders: each context that
 * needs building is packed here (.dockerignore applied) and sent along.
 */
export async function buildImages(client: ApiClient, project: ComposeProject, services: string[], force: boolean): Promise<string[]> {
  let current = '';
  const built: string[] = [];
  let failure: { service: string; message: string } | undefined;
  const onEvent = (e: BuildEvent): void => {
    if ('line' in e) {
      if (e.service !== current) process.stdout.write(`#${e.service} Building\n`);
      current = e.service;
      process.stdout.write(`#${e.service} ${e.line}\n`);
    } else if ('built' in e) built.push(...e.built);
    else if ('error' in e) failure = e.error;
  };
  // What needs building first: logins are read (and credential helpers run) only when something does.
  const plan = await client.buildPlan({ project, services, force });
  if (plan.length === 0) return [];
  const logins = allCredentials((msg) => process.stderr.write(`warning: ${msg}\n`));
  const auth = Object.keys(logins).length > 0 ? { auth: logins } : {};
  if (!client.remote) await client.build({ project, services: plan, force, ...auth }, onEvent);
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
      await client.buildFrom({ project, services: [name], force: true, ...auth }, tar, onEvent);
      if (failure) break;
    }
  }
  if (failure) throw new UserError(`${failure.service ? `service "${failure.service}": ` : ''}build failed: ${failure.message}`);
  for (const s of built) process.stdout.write(` ✔ Service ${s.padEnd(20)} Built\n`);
  return built;
}

/**
 * Pulls the images of services through the daemon, printing progress under
 * each service's name; with `missingOnly` (what `up` does) only images not
 * here yet. Throws naming the service.
 */
/** `--with-registry-auth`: this user's credentials for the registries of the project's images, to keep with the deploy. */
export function deployCredentials(project: ComposeProject): Record<string, RegistryAuth> {
  const images = Object.values(project.services).map((s) => s.image).filter((i): i is string => typeof i === 'string');
  return credentialsForImages(images, (msg) => process.stderr.write(`warning: ${msg}\n`));
}

export async function pullImages(client: ApiClient, project: ComposeProject, services: string[], missingOnly: boolean): Promise<string[]> {
  if (missingOnly) {
    // What `up` must pull, first: with nothing missing, no Docker config is read and no credential helper runs.
    let needed: string[] = [];
    await client.pull({ project, services, missingOnly, plan: true }, (e) => {
      if ('needed' in e) needed = e.needed;
    });
    if (needed.length === 0) return [];
    services = needed;
  }
  let failure: { service: string; message: string } | undefined;
  let pulled: string[] = [];
  const names = services.length > 0 ? services : Object.keys(project.services);
  const images = names.map((s) => project.services[s]?.image).filter((i): i is string => typeof i === 'string');
  const auth = credentialsForImages(images, (msg) => process.stderr.write(`warning: ${msg}\n`));
  await client.pull({ project, services, missingOnly, ...(Object.keys(auth).length > 0 ? { auth } : {}) }, (e) => {
    if ('line' in e) process.stdout.write(`#${e.service} ${e.line}\n`);
    else if ('pulled' in e) pulled = e.pulled;
    else if ('error' in e) failure = e.error;
  });
  if (failure) throw new UserError(`${failure.service ? `service "${failure.service}": ` : ''}${failure.message}`);
  for (const s of pulled) process.stdout.write(` ✔ Service ${s.padEnd(20)} Pulled\n`);
  return pulled;
}

/**
 * Pushes the images of services that name one (`image:`) through the
 * daemon's engine, each with this user's credentials for its registry,
 * printing progress under each service's name. Throws naming the service.
 */
export async function pushImages(client: ApiClient, project: ComposeProject, services: string[]): Promise<string[]> {
  const names = services.length > 0 ? services : Object.keys(project.services);
  const images = names.map((s) => project.services[s]?.image).filter((i): i is string => typeof i === 'string');
  const auth = credentialsForImages(images, (msg) => process.stderr.write(`warning: ${msg}\n`));
  let failure: { service: string; message: string } | undefined;
  let pushed: string[] = [];
  await client.push({ project, services, ...(Object.keys(auth).length > 0 ? { auth } : {}) }, (e) => {
    if ('line' in e) process.stdout.write(`#${e.service} ${e.line}\n`);
    else if ('pushed' in e) pushed = e.pushed;
    else failure = e.error;
  });
  if (failure) throw new UserError(`${failure.service ? `service "${failure.service}": ` : ''}${failure.message}`);
  for (const s of pushed) process.stdout.write(` ✔ Service ${s.padEnd(20)} Pushed\n`);
  return pushed;
}

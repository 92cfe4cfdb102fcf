import type { ApiClient } from '../api/index.js';
import type { ComposeProject } from '../spec/types.js';
import { UserError } from './errors.js';

/**
 * Builds the images of services with `build:` through the daemon, printing
 * the builder's output under each service's name; all of them with `force`,
 * else only images not there yet (what `up` does). Throws naming the service.
 */
export async function buildImages(client: ApiClient, project: ComposeProject, services: string[], force: boolean): Promise<string[]> {
  let current = '';
  let built: string[] = [];
  let failure: { service: string; message: string } | undefined;
  await client.build({ project, services, force }, (e) => {
    if ('line' in e) {
      if (e.service !== current) process.stdout.write(`#${e.service} Building\n`);
      current = e.service;
      process.stdout.write(`#${e.service} ${e.line}\n`);
    } else if ('built' in e) built = e.built;
    else failure = e.error;
  });
  if (failure) throw new UserError(`${failure.service ? `service "${failure.service}": ` : ''}build failed: ${failure.message}`);
  for (const s of built) process.stdout.write(` ✔ Service ${s.padEnd(20)} Built\n`);
  return built;
}

/**
 * Pulls the images of services through the daemon, printing progress under
 * each service's name; with `missingOnly` (what `up` does) only images not
 * here yet. Throws naming the service.
 */
export async function pullImages(client: ApiClient, project: ComposeProject, services: string[], missingOnly: boolean): Promise<string[]> {
  let failure: { service: string; message: string } | undefined;
  let pulled: string[] = [];
  await client.pull({ project, services, missingOnly }, (e) => {
    if ('line' in e) process.stdout.write(`#${e.service} ${e.line}\n`);
    else if ('pulled' in e) pulled = e.pulled;
    else failure = e.error;
  });
  if (failure) throw new UserError(`${failure.service ? `service "${failure.service}": ` : ''}${failure.message}`);
  for (const s of pulled) process.stdout.write(` ✔ Service ${s.padEnd(20)} Pulled\n`);
  return pulled;
}

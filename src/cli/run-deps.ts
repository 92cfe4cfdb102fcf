// What `baton run SERVICE` needs before its one-off container, as `docker
// compose run` does it: the services SERVICE depends on up (and ready, as
// their conditions say), unless --no-deps; and SERVICE itself known to the
// daemon, with no replicas of its own when it was not deployed yet. Progress
// goes to stderr: stdout is the command's.
import type { ApiClient } from '../api/index.js';
import type { ComposeProject } from '../spec/types.js';
import { fileSources } from '../spec/sources.js';
import { buildImages, pullImages } from './build.js';
import { upProject } from './up-options.js';
import { waitReady } from './commands/up.js';
import { ApiRequestError } from '../api/client.js';
import { withPositions } from './positions.js';

/** The services `service` depends on, transitively, in the loaded project. */
export function dependenciesOf(p: ComposeProject, service: string): string[] {
  return Object.keys(upProject(p, [service], {}).services).filter((s) => s !== service);
}

export async function prepareRun(client: ApiClient, loaded: ComposeProject, service: string, withDeps: boolean, waitTimeoutMs = 300_000): Promise<void> {
  const st = await client.status(loaded.name).catch(() => undefined);
  const deployed = st?.services.some((s) => s.name === service) === true;
  const deps = withDeps ? dependenciesOf(loaded, service) : [];
  const down = deps.filter((d) => !st?.tasks.some((t) => t.service === d && t.state === 'running' && t.desiredState === 'running'));
  if (deployed && down.length === 0) return;
  // A deployed SERVICE is left as it runs; one not deployed yet is registered with no replicas of its own.
  const subset = upProject(loaded, [service], { deps: withDeps });
  if (deployed) delete subset.services[service];
  else {
    const s = subset.services[service];
    subset.services[service] = { ...s, scale: 0, ...(s.deploy ? { deploy: { ...s.deploy, replicas: 0 } } : {}) };
  }
  const names = Object.keys(subset.services);
  const toBuild = names.filter((n) => subset.services[n].build);
  if (toBuild.length > 0) await buildImages(client, subset, toBuild, false, {}, loaded, process.stderr);
  const toPull = names.filter((n) => subset.services[n].image && !subset.services[n].build);
  if (toPull.length > 0) await pullImages(client, subset, toPull, true, process.stderr);
  const r = await client.deploy(subset, false, fileSources(loaded)).catch((err: unknown) => {
    throw err instanceof ApiRequestError ? withPositions(err, loaded) : err;
  });
  for (const n of r.created.filter((c) => c !== service)) process.stderr.write(` ✔ Service ${n.padEnd(20)} Created\n`);
  if (deps.length > 0) await waitReady(client, loaded.name, waitTimeoutMs, { out: process.stderr });
}

import type { Command } from 'commander';
import type { ComposeProject } from '../../spec/index.js';
import { UserError } from '../errors.js';
import { blobCommands } from './blobs.js';
import { projectFlags, projectOptions, type ProjectFlags } from '../project.js';

interface ConfigFlags extends ProjectFlags {
  format: string;
  services?: boolean;
  volumes?: boolean;
  networks?: boolean;
  profiles?: boolean;
  images?: boolean;
  quiet?: boolean;
  interpolate: boolean;
}

/** The named services and everything they depend on, with dependencies on services left out dropped (as docker compose does). */
function withDependencies(p: ComposeProject, names: string[]): ComposeProject {
  const keep = new Set<string>();
  const visit = (n: string): void => {
    if (keep.has(n) || !p.services[n]) return;
    keep.add(n);
    for (const d of Object.keys(p.services[n].depends_on)) visit(d);
  };
  names.forEach(visit);
  const services = Object.fromEntries(
    Object.entries(p.services)
      .filter(([n]) => keep.has(n))
      .map(([n, s]) => [n, { ...s, depends_on: Object.fromEntries(Object.entries(s.depends_on).filter(([d]) => keep.has(d))) }]),
  );
  return { ...p, services };
}

/** `baton config`: the project as baton reads it, printed like `docker compose config` so the two can be diffed. */
export function configCommand(program: Command): void {
  const cmd = projectOptions(
    program
      .command('config [services...]')
      .description('Print the project as baton reads it: merged, interpolated, validated, normalized (like docker compose config)')
      .option('--format <format>', 'yaml or json', 'yaml')
      .option('--services', 'print the service names, one per line')
      .option('--volumes', 'print the volume names, one per line')
      .option('--networks', 'print the network names, one per line')
      .option('--profiles', 'print the profile names, one per line')
      .option('--images', 'print the image names, one per line')
      .option('--no-interpolate', 'do not replace ${VARIABLES} (no schema validation then)')
      .option('-q, --quiet', 'only validate: print nothing, exit 1 on a problem'),
  ).action(async (services: string[], _o: unknown, cmd: Command) => {
    const flags = projectFlags<ConfigFlags>(cmd);
    if (flags.format !== 'yaml' && flags.format !== 'json') throw new UserError(`--format: expected yaml or json, got "${flags.format}"`);
    const { configObject, formatConfig, loadProject } = await import('../../spec/index.js');
    const p = await loadProject({
      files: flags.file,
      projectName: flags.projectName,
      projectDir: flags.projectDirectory,
      envFiles: flags.envFile,
      // Every profile is listed, enabled or not, as docker compose does; a service named on the
      // command line is shown even when its profile is not enabled.
      profiles: flags.profiles || services.length > 0 ? ['*'] : flags.profile,
      noInterpolate: !flags.interpolate,
    });
    const unknown = services.filter((s) => !p.services[s]);
    if (unknown.length > 0) throw new UserError(`no such service: ${unknown.join(', ')} (services: ${Object.keys(p.services).join(', ')})`);
    const lines = (xs: string[]): void => void process.stdout.write(xs.map((x) => x + '\n').join(''));
    if (flags.quiet) return;
    const shown = services.length === 0 ? p : withDependencies(p, services);
    // What config prints: only the resources the shown services use, as docker compose prints them.
    const printed = configObject(shown, 'yaml');
    const names = (k: string): string[] => Object.keys((printed[k] as object | undefined) ?? {});
    if (flags.services) return lines(Object.keys(shown.services));
    if (flags.volumes) return lines(names('volumes'));
    if (flags.networks) return lines(names('networks'));
    if (flags.profiles) return lines([...new Set(Object.values(p.services).flatMap((s) => s.profiles))].sort());
    if (flags.images) return lines(Object.values(shown.services).map((s) => s.image ?? `${p.name}-${s.name}`));
    process.stdout.write(formatConfig(shown, flags.format, { noInterpolate: !flags.interpolate }));
  });
  // `baton config create|ls|inspect|rm` manage stored configs, as `docker config` does.
  blobCommands(cmd, 'config');
}

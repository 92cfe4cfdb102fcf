import type { Command } from 'commander';
import { formatConfig, loadProject } from '../../spec/index.js';
import { UserError } from '../errors.js';
import { blobCommands } from './blobs.js';
import { projectFlags, projectOptions, type ProjectFlags } from '../project.js';

interface ConfigFlags extends ProjectFlags {
  format: string;
  services?: boolean;
  volumes?: boolean;
  profiles?: boolean;
  images?: boolean;
  quiet?: boolean;
  interpolate: boolean;
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
      .option('--profiles', 'print the profile names, one per line')
      .option('--images', 'print the image names, one per line')
      .option('--no-interpolate', 'do not replace ${VARIABLES} (no schema validation then)')
      .option('-q, --quiet', 'only validate: print nothing, exit 1 on a problem'),
  ).action(async (services: string[], _o: unknown, cmd: Command) => {
    const flags = projectFlags<ConfigFlags>(cmd);
    if (flags.format !== 'yaml' && flags.format !== 'json') throw new UserError(`--format: expected yaml or json, got "${flags.format}"`);
    const p = await loadProject({
      files: flags.file,
      projectName: flags.projectName,
      projectDir: flags.projectDirectory,
      envFiles: flags.envFile,
      // Every profile is listed, enabled or not, as docker compose does.
      profiles: flags.profiles ? ['*'] : flags.profile,
      noInterpolate: !flags.interpolate,
    });
    const unknown = services.filter((s) => !p.services[s]);
    if (unknown.length > 0) throw new UserError(`no such service: ${unknown.join(', ')} (services: ${Object.keys(p.services).join(', ')})`);
    const lines = (xs: string[]): void => void process.stdout.write(xs.map((x) => x + '\n').join(''));
    if (flags.quiet) return;
    if (flags.services) return lines(Object.keys(p.services));
    if (flags.volumes) return lines(Object.keys(p.volumes));
    if (flags.profiles) return lines([...new Set(Object.values(p.services).flatMap((s) => s.profiles))].sort());
    if (flags.images) return lines(Object.values(p.services).map((s) => s.image ?? `${p.name}-${s.name}`));
    const shown = services.length === 0 ? p : { ...p, services: Object.fromEntries(Object.entries(p.services).filter(([n]) => services.includes(n))) };
    process.stdout.write(formatConfig(shown, flags.format));
  });
  // `baton config create|ls|inspect|rm` manage stored configs, as `docker config` does.
  blobCommands(cmd, 'config');
}

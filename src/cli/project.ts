import type { Command } from 'commander';
import type { ComposeProject } from '../spec/types.js';

export interface ProjectFlags {
  file?: string[];
  projectName?: string;
  projectDirectory?: string;
  envFile?: string[];
  profile?: string[];
}

/** Commander's accumulator for a repeatable option. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/**
 * The options every project command takes, named as in `docker compose`.
 * They are accepted before the command (`baton -f x.yaml ps`, as Compose
 * wants) and after it (`baton up -f x.yaml`); `logs` keeps `-f` for --follow.
 */
export function projectOptions(cmd: Command, opts: { shortFile?: boolean } = {}): Command {
  return cmd
    .option(opts.shortFile === false ? '--file <file>' : '-f, --file <file>', 'Compose file (repeatable; later files override earlier ones)', collect)
    .option('-p, --project-name <name>', 'project name')
    .option('--project-directory <dir>', 'alternate working directory (default: folder of the first file)')
    .option('--env-file <file>', 'alternate environment file (repeatable)', collect)
    .option('--profile <profile>', 'enable a profile (repeatable)', collect);
}

/** Project flags given before and after the command name, the later ones winning. */
export function projectFlags<T extends ProjectFlags>(cmd: Command): T {
  const local = cmd.opts<T>();
  const global = cmd.parent?.opts<ProjectFlags>() ?? {};
  const out = { ...global } as T;
  for (const [k, v] of Object.entries(local)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  for (const k of ['file', 'envFile', 'profile'] as const) {
    const both = [...(global[k] ?? []), ...(local[k] ?? [])];
    if (both.length > 0) out[k] = both;
  }
  return out;
}

export async function load(flags: ProjectFlags): Promise<ComposeProject> {
  // Loaded when a command needs a Compose file: the YAML parser and the schema validator are most of the CLI's start-up.
  const { loadProject } = await import('../spec/index.js');
  return loadProject({
    files: flags.file,
    projectName: flags.projectName,
    projectDir: flags.projectDirectory,
    envFiles: flags.envFile,
    profiles: flags.profile,
  });
}

/** The project a command acts on: -p when given, else the name the Compose files give (as docker compose does). */
export async function projectName(flags: ProjectFlags): Promise<string> {
  if (flags.projectName) return flags.projectName;
  if (process.env.COMPOSE_PROJECT_NAME && !flags.file) return process.env.COMPOSE_PROJECT_NAME;
  return (await load(flags)).name;
}

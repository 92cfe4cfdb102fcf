import { Command, CommanderError } from 'commander';
import { ApiRequestError, ApiUnreachableError } from '../api/client.js';
import { SpecError, formatProblem } from '../spec/errors.js';
import { UserError } from './errors.js';
import { upCommand } from './commands/up.js';
import { projectCommands } from './commands/project.js';
import { miscCommands } from './commands/misc.js';
import { clusterCommands } from './commands/cluster.js';
import { serviceCommands } from './commands/service.js';
import { stackCommands } from './commands/stack.js';
import { configCommand } from './commands/config.js';
import { secretCommand } from './commands/blobs.js';
import { tokenCommand } from './commands/token.js';
import { autolockCommands } from './commands/autolock.js';
import { containerCommands } from './commands/container.js';
import { registryCommands } from './commands/registry.js';
import { VERSION } from '../version.js';
import { projectOptions } from './project.js';

const program = new Command();
program
  .name('baton')
  .description('Run the Compose files you already have: on one machine or a cluster, kept alive, scaled, routed.')
  .version(VERSION, '-v, --version')
  .showHelpAfterError()
  // Options of the program only before the command: `down -v` is --volumes, not the program's --version.
  .enablePositionalOptions()
  .exitOverride();
projectOptions(program);
// As `docker -H`: the daemon to talk to, for every command; BATON_HOST is what the rest of the CLI reads.
program.option('-H, --host <url>', 'daemon to talk to: https://HOST:PORT (tcp://HOST:PORT means the same); default $BATON_HOST, else the local daemon');
program.hook('preAction', () => {
  const host = program.opts<{ host?: string }>().host;
  if (host === undefined) return;
  const url = host.replace(/^tcp:\/\//, 'https://');
  if (!/^https:\/\/[^/]+\/?$/.test(url)) throw new UserError(`--host: expected https://HOST:PORT or tcp://HOST:PORT (the TCP API speaks TLS only), got "${host}"`);
  process.env.BATON_HOST = url.replace(/\/$/, '');
});

upCommand(program);
projectCommands(program);
miscCommands(program);
clusterCommands(program);
serviceCommands(program);
stackCommands(program);
configCommand(program);
secretCommand(program);
tokenCommand(program);
autolockCommands(program);
containerCommands(program);
registryCommands(program);

/** Prints what went wrong in words the user can act on; a stack only with BATON_DEBUG. */
function report(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode;
  if (err instanceof SpecError) {
    for (const p of err.problems) process.stderr.write(`error: ${formatProblem(p)}\n`);
    return 1;
  }
  if (err instanceof ApiRequestError) {
    process.stderr.write(`error: ${err.message}\n`);
    for (const p of err.problems) process.stderr.write(`  - ${p.service ? `service "${p.service}": ` : ''}${p.path ? `${p.path}: ` : ''}${p.message}\n`);
    return 1;
  }
  if (err instanceof UserError || err instanceof ApiUnreachableError) {
    process.stderr.write(`error: ${err.message}\n`);
    return err instanceof UserError ? err.exitCode : 1;
  }
  process.stderr.write(`error: ${(err as Error)?.message ?? String(err)}\n`);
  if (process.env.BATON_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
  return 1;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = report(err);
}

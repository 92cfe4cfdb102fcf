import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { ensureDaemon } from '../connect.js';
import { UserError } from '../errors.js';
import { removeCredentials, saveCredentials } from '../docker-config.js';
import { DOCKER_HUB, normalizeRegistry, serverAddress } from '../../model/image-ref.js';

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

/** A line typed at the terminal; `hidden` keeps it off the screen (a password). */
function ask(question: string, hidden: boolean): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  if (hidden) {
    // readline echoes through _writeToOutput; once the question is out, nothing typed is shown.
    const out = rl as unknown as { _writeToOutput(s: string): void };
    const write = out._writeToOutput.bind(rl);
    let asked = false;
    out._writeToOutput = (s: string) => {
      if (!asked) write(s);
      asked = true;
    };
  }
  return new Promise((resolve) =>
    rl.question(question, (answer) => {
      rl.close();
      if (hidden) process.stdout.write('\n');
      resolve(answer);
    }),
  );
}

/** `login` and `logout`, as `docker login`/`docker logout`: the same config file and helpers, so either tool's login serves both. */
export function registryCommands(program: Command): void {
  program
    .command('login [server]')
    .description('Log in to a registry (Docker Hub when no server is named); pulls send these credentials')
    .option('-u, --username <name>', 'user name')
    .option('-p, --password <password>', 'password (visible to other users of this machine; prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (server: string | undefined, flags: LoginFlags) => {
      const registry = server ? normalizeRegistry(server) : DOCKER_HUB;
      if (!registry) throw new UserError(`login: "${server}" is not a registry address`);
      if (flags.password !== undefined && flags.passwordStdin) throw new UserError('--password and --password-stdin: give only one');
      const tty = process.stdin.isTTY === true;
      let username = flags.username;
      if (username === undefined) {
        if (!tty || flags.passwordStdin) throw new UserError('login: --username is required when not at a terminal');
        username = (await ask('Username: ', false)).trim();
      }
      let password = flags.password;
      if (flags.passwordStdin) password = (await readAll(process.stdin)).replace(/\r?\n$/, '');
      else if (password === undefined) {
        if (!tty) throw new UserError('login: give the password with --password-stdin (or -p)');
        password = await ask('Password: ', true);
      }
      if (!username || !password) throw new UserError('login: user name and password must not be empty');
      const client = await ensureDaemon();
      const r = await client.login({ serveraddress: serverAddress(registry), username, password });
      const where = saveCredentials(registry, username, password);
      process.stdout.write(`${r.status}\nCredentials kept in ${where}\n`);
    });

  program
    .command('logout [server]')
    .description('Forget the credentials for a registry (Docker Hub when no server is named)')
    .action((server: string | undefined) => {
      const registry = server ? normalizeRegistry(server) : DOCKER_HUB;
      const removed = removeCredentials(registry);
      process.stdout.write(removed ? `Removing login credentials for ${registry}\n` : `Not logged in to ${registry}\n`);
    });
}

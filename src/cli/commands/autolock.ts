import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { connection, ensureDaemon } from '../connect.js';
import { UserError } from '../errors.js';

async function readKey(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Unlock key: ');
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line.trim();
  }
  return '';
}

/** Swarm's autolock: `baton autolock on|off` and `baton unlock` after a restart. */
export function autolockCommands(program: Command): void {
  program
    .command('autolock <on|off>')
    .description('Keep the secrets key locked at rest: after a restart the daemon waits for "baton unlock" (like docker swarm update --autolock)')
    .action(async (state: string) => {
      if (state !== 'on' && state !== 'off') throw new UserError(`expected "on" or "off", got "${state}"`);
      const client = await ensureDaemon();
      const r = await client.autolock(state === 'on');
      if (r.unlockKey) {
        process.stdout.write(`${r.unlockKey}\n`);
        process.stderr.write('Autolock is on. Keep this unlock key somewhere safe: after a restart the daemon starts nothing until "baton unlock" gets it. It is not shown again.\n');
      } else process.stderr.write('Autolock is off.\n');
    });
  program
    .command('unlock')
    .description('Give a locked daemon its unlock key (read from standard input)')
    .action(async () => {
      const key = await readKey();
      if (!key) throw new UserError('no unlock key given (type it, or pipe it on standard input)');
      // Never starts a daemon: the one to unlock is already there, waiting (a fresh one started here would
      // take its place, as a plain daemon, while a manager was still coming up).
      await connection().client.unlock(key);
      process.stderr.write('unlocked\n');
    });
}

import type { Command } from 'commander';
import { ensureDaemon } from '../connect.js';
import { UserError } from '../errors.js';
import { ago, table } from '../format.js';

const ROLES = ['viewer', 'deployer', 'admin'];

/** `baton token create|ls|rm`: who may use the TCP API, and with which role. */
export function tokenCommand(program: Command): void {
  const token = program.command('token').description('Manage API tokens for the TCP listener (roles: viewer, deployer, admin)');
  token
    .command('create')
    .description('Create a token; it is printed once and only a hash of it is kept')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--name <name>', 'a note on who it is for')
    .action(async (o: { role: string; name?: string }) => {
      if (!ROLES.includes(o.role)) throw new UserError(`--role: expected one of ${ROLES.join(', ')}, got "${o.role}"`);
      const client = await ensureDaemon();
      const t = await client.createToken(o.role, o.name);
      process.stdout.write(`${t.token}\n`);
      process.stderr.write(`token ${t.id} (${t.role}) created; keep it now, it is not shown again\n`);
    });
  token
    .command('ls')
    .description('List tokens (ids, roles and names; never the tokens)')
    .option('--format <format>', 'table or json', 'table')
    .action(async (o: { format: string }) => {
      if (o.format !== 'table' && o.format !== 'json') throw new UserError(`--format: expected table or json, got "${o.format}"`);
      const client = await ensureDaemon();
      const all = await client.listTokens();
      if (o.format === 'json') return void process.stdout.write(JSON.stringify(all, null, 2) + '\n');
      process.stdout.write(table(['ID', 'ROLE', 'NAME', 'CREATED'], all.map((t) => [t.id, t.role, t.name, `${ago(t.createdAt)} ago`])) + '\n');
    });
  token
    .command('rm <id...>')
    .description('Revoke tokens')
    .action(async (ids: string[]) => {
      const client = await ensureDaemon();
      for (const id of ids) process.stdout.write(`${(await client.removeToken(id)).removed}\n`);
    });
}

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { BlobKind, BlobSummary } from '../../api/blobs.js';
import { ensureDaemon } from '../connect.js';
import { UserError } from '../errors.js';
import { ago, table } from '../format.js';

async function readValue(source: string): Promise<Buffer> {
  if (source === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  }
  try {
    return readFileSync(source);
  } catch (err) {
    throw new UserError(`${source}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

/** `create|ls|inspect|rm` for secrets and configs, as `docker secret` and `docker config` have them; values are never printed. */
export function blobCommands(parent: Command, kind: BlobKind): void {
  parent
    .command('create <name> <file>')
    .description(`Create a ${kind} from FILE, or from standard input with "-" (${kind}s cannot be changed once made)`)
    .action(async (name: string, file: string) => {
      const value = await readValue(file);
      const client = await ensureDaemon();
      const made = await client.createBlob(kind, name, value);
      process.stdout.write(`${made.name}\n`);
    });
  parent
    .command('ls')
    .description(`List ${kind}s (names, versions and sizes; never values)`)
    .option('--format <format>', 'table or json', 'table')
    .option('-q, --quiet', 'only names')
    .action(async (o: { format: string; quiet?: boolean }) => {
      const client = await ensureDaemon();
      const all = await client.listBlobs(kind);
      if (o.quiet) return void process.stdout.write([...new Set(all.map((b) => b.name))].map((n) => n + '\n').join(''));
      if (o.format === 'json') return void process.stdout.write(JSON.stringify(all, null, 2) + '\n');
      if (o.format !== 'table') throw new UserError(`--format: expected table or json, got "${o.format}"`);
      process.stdout.write(table(['NAME', 'SCOPE', 'VERSION', 'SIZE', 'CREATED', 'USED BY'], all.map(row)) + '\n');
    });
  parent
    .command('inspect <name>')
    .description(`Show a ${kind}'s versions and the services using them (never the value)`)
    .action(async (name: string) => {
      const client = await ensureDaemon();
      process.stdout.write(JSON.stringify(await client.inspectBlob(kind, name), null, 2) + '\n');
    });
  parent
    .command('rm <name...>')
    .description(`Remove ${kind}s made with "create" that no service uses`)
    .action(async (names: string[]) => {
      const client = await ensureDaemon();
      for (const n of names) process.stdout.write(`${(await client.removeBlob(kind, n)).removed}\n`);
    });
}

function row(b: BlobSummary): string[] {
  return [b.name, b.scope === '_' ? 'created' : `project ${b.scope}`, b.version, `${b.size}B`, `${ago(b.createdAt)} ago`, b.usedBy.join(', ')];
}

export function secretCommand(program: Command): void {
  blobCommands(program.command('secret').description('Manage secrets (encrypted at rest, delivered to tasks as files)'), 'secret');
}

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Where a daemon keeps its state: $BATON_HOME, or ~/.baton. */
export function batonHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.BATON_HOME || join(homedir(), '.baton'));
}

export const paths = (home: string) => ({
  socket: join(home, 'baton.sock'),
  pidfile: join(home, 'daemon.pid'),
  db: join(home, 'state.db'),
  log: join(home, 'daemon.log'),
  logs: join(home, 'logs'),
  secretKey: join(home, 'secrets.key'),
});

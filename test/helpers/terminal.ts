// The baton CLI in a terminal without a person at one: util-linux's `script`
// gives the shell command a pseudo-terminal, and what the test writes is typed
// at it a moment after the start (once the CLI has set its terminal up).
import { spawn } from 'node:child_process';
import { BIN, outcome, type RunResult } from './baton.js';

/** Quotes a string for sh. */
export const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs `shell` under a pseudo-terminal; `$BATON` in it is the CLI. Resolves with the shell's exit code and what the terminal showed. */
export function inTerminal(shell: string, input: string, opts: { cwd: string; env: NodeJS.ProcessEnv; typeAfterMs?: number; timeoutMs?: number }): Promise<RunResult> {
  const child = spawn('script', ['-qec', shell, '/dev/null'], { cwd: opts.cwd, env: { ...opts.env, BATON: `${process.execPath} ${BIN}`, TERM: 'xterm' } });
  const typing = setTimeout(() => child.stdin.write(input), opts.typeAfterMs ?? 1500);
  child.once('exit', () => {
    clearTimeout(typing);
    child.stdin.destroy();
  });
  return outcome(child, `script ${shell}`, opts.timeoutMs ?? 60_000);
}

// The baton CLI in a terminal without a person at one: util-linux's `script`
// gives the shell command a pseudo-terminal, and what the test writes is typed
// at it a moment after the start (once the CLI has set its terminal up).
import { spawn } from 'node:child_process';
import { BIN, type RunResult } from './baton.js';

/** Quotes a string for sh. */
export const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs `shell` under a pseudo-terminal; `$BATON` in it is the CLI. Resolves with the shell's exit code and what the terminal showed. */
export function inTerminal(shell: string, input: string, opts: { cwd: string; env: NodeJS.ProcessEnv; typeAfterMs?: number; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', shell, '/dev/null'], { cwd: opts.cwd, env: { ...opts.env, BATON: `${process.execPath} ${BIN}`, TERM: 'xterm' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const typing = setTimeout(() => child.stdin.write(input), opts.typeAfterMs ?? 1500);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`script ${shell} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      clearTimeout(typing);
      child.stdin.destroy();
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

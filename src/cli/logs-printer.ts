import type { LogEntry } from '../api/index.js';
import { colorFor } from './format.js';

/** Prints log entries as Compose does: "web-1  | line", optionally with timestamps. */
export function logPrinter(opts: { timestamps: boolean; noPrefix?: boolean; color?: boolean; out?: NodeJS.WritableStream }): (e: LogEntry) => void {
  const out = opts.out ?? process.stdout;
  const color = opts.color ?? Boolean((out as NodeJS.WriteStream).isTTY);
  let width = 0;
  return (e) => {
    const name = `${e.service}-${e.slot}`;
    width = Math.max(width, name.length);
    const prefix = opts.noPrefix ? '' : colorFor(e.service, color)(`${name.padEnd(width)}  | `);
    out.write(`${prefix}${opts.timestamps ? `${e.time} ` : ''}${e.line}\n`);
  };
}

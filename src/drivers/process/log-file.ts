import { closeSync, existsSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import type { LogLine } from '../driver.js';

/** Lines longer than this are split, so one runaway line cannot take all memory. */
const MAX_LINE = 16 * 1024;

/**
 * One task's log: JSON lines {t, s, l} appended synchronously (so a reader
 * that reads the file and subscribes in the same tick misses nothing), rotated
 * by size into .1, .2, ... The file is opened (made) with the first line: a
 * task that has said nothing costs no file, and starting many replicas does not
 * wait on the disk for each (readers take a missing file as an empty log).
 */
export class LogFile {
  private fd = -1;
  private size = 0;
  private readonly partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  private readonly subscribers = new Set<(l: LogLine) => void>();

  constructor(readonly path: string, private readonly maxBytes: number, private readonly maxFiles: number) {}

  private open(): void {
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = statSync(this.path).size;
  }

  /** A chunk of a stream's output: complete lines are written, the rest waits for its newline. */
  write(stream: 'stdout' | 'stderr', chunk: string): void {
    const text = this.partial[stream] + chunk;
    const parts = text.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    while (this.partial[stream].length > MAX_LINE) {
      parts.push(this.partial[stream].slice(0, MAX_LINE));
      this.partial[stream] = this.partial[stream].slice(MAX_LINE);
    }
    this.emit(stream, parts);
  }

  /** Writes what is left without a newline (the stream ended). */
  flush(): void {
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.partial[s]) this.emit(s, [this.partial[s]]);
      this.partial[s] = '';
    }
  }

  subscribe(fn: (l: LogLine) => void): () => void {
    this.subscribers.add(fn);
    return () => void this.subscribers.delete(fn);
  }

  close(): void {
    this.flush();
    this.subscribers.clear();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private emit(stream: 'stdout' | 'stderr', lines: string[]): void {
    if (lines.length === 0) return;
    const time = new Date().toISOString();
    let out = '';
    const entries: LogLine[] = [];
    // One write per chunk, except where the file fills up: rotation falls between lines.
    if (this.fd < 0) this.open();
    const write = (): void => {
      if (!out) return;
      const buf = Buffer.from(out);
      writeSync(this.fd, buf);
      this.size += buf.length;
      out = '';
      if (this.size >= this.maxBytes) this.rotate();
    };
    for (const raw of lines) {
      for (let i = 0; i < Math.max(1, raw.length); i += MAX_LINE) {
        const line = raw.slice(i, i + MAX_LINE).replace(/\r$/, '');
        entries.push({ time, stream, line });
        out += JSON.stringify({ t: time, s: stream, l: line }) + '\n';
        if (this.size + out.length >= this.maxBytes) write();
      }
    }
    write();
    for (const e of entries) for (const fn of this.subscribers) fn(e);
  }

  private rotate(): void {
    closeSync(this.fd);
    for (let i = this.maxFiles - 1; i >= 1; i--) {
      const from = i === 1 ? this.path : `${this.path}.${i - 1}`;
      if (existsSync(from)) renameSync(from, `${this.path}.${i}`);
    }
    if (this.maxFiles <= 1) unlinkSync(this.path);
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = 0;
  }
}

/** Every line of a task's log files, oldest first. */
export function readLogFiles(path: string, maxFiles: number): LogLine[] {
  const out: LogLine[] = [];
  for (let i = maxFiles - 1; i >= 0; i--) {
    const p = i === 0 ? path : `${path}.${i}`;
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const e = JSON.parse(line) as { t: string; s: 'stdout' | 'stderr'; l: string };
        out.push({ time: e.t, stream: e.s, line: e.l });
      } catch {
        /* a torn last line after a crash */
      }
    }
  }
  return out;
}

export function removeLogFiles(path: string, maxFiles: number): void {
  for (let i = 0; i < maxFiles; i++) {
    try {
      unlinkSync(i === 0 ? path : `${path}.${i}`);
    } catch {
      /* not there */
    }
  }
}

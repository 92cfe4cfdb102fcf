import type { LogLine } from '../driver.js';

/**
 * Splits the engine's multiplexed stream (no TTY): frames of an 8-byte header
 * (stream 1 = stdout, 2 = stderr; big-endian size in bytes 4..7) and payload.
 * Frames may arrive split across chunks, or several in one.
 */
export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (stream: 'stdout' | 'stderr', data: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      const kind = this.buf[0];
      const data = this.buf.subarray(8, 8 + size);
      this.buf = this.buf.subarray(8 + size);
      this.onFrame(kind === 2 ? 'stderr' : 'stdout', data);
    }
  }
}

/**
 * Turns timestamped log output ("2024-01-01T00:00:00.000000000Z text\n") into
 * lines, per stream, keeping a partial line until its end arrives.
 */
export class LogLines {
  private readonly partial = { stdout: '', stderr: '' };

  constructor(private readonly onLine: (l: LogLine) => void) {}

  push(stream: 'stdout' | 'stderr', data: Buffer): void {
    const text = this.partial[stream] + data.toString('utf8');
    const parts = text.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    for (const p of parts) this.emit(stream, p);
  }

  flush(): void {
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.partial[s]) this.emit(s, this.partial[s]);
      this.partial[s] = '';
    }
  }

  private emit(stream: 'stdout' | 'stderr', raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const sp = line.indexOf(' ');
    const stamp = sp > 0 ? line.slice(0, sp) : '';
    const stamped = /^\d{4}-\d\d-\d\dT/.test(stamp) && !Number.isNaN(Date.parse(stamp));
    const time = stamped ? new Date(stamp).toISOString() : new Date().toISOString();
    this.onLine({ time, stream, line: stamped ? line.slice(sp + 1) : line });
  }
}

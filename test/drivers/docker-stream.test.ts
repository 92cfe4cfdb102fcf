import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Demuxer, LogLines } from '../../src/drivers/docker/stream.js';
import type { LogLine } from '../../src/drivers/driver.js';

function frame(kind: 1 | 2, text: string): Buffer {
  const body = Buffer.from(text);
  const head = Buffer.alloc(8);
  head[0] = kind;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

describe('engine stream parsing', () => {
  it('demultiplexes frames split anywhere and joined together', () => {
    const got: [string, string][] = [];
    const d = new Demuxer((s, b) => got.push([s, b.toString()]));
    const all = Buffer.concat([frame(1, 'out1'), frame(2, 'err1'), frame(1, 'out2')]);
    for (let i = 0; i < all.length; i += 5) d.push(all.subarray(i, i + 5));
    assert.deepEqual(got, [['stdout', 'out1'], ['stderr', 'err1'], ['stdout', 'out2']]);
  });

  it('splits timestamped output into lines per stream, keeping partial lines', () => {
    const lines: LogLine[] = [];
    const l = new LogLines((x) => lines.push(x));
    l.push('stdout', Buffer.from('2024-05-01T10:00:00.123456789Z hello\n2024-05-01T10:00:01.000000000Z par'));
    l.push('stderr', Buffer.from('2024-05-01T10:00:02.000000000Z oops\r\n'));
    l.push('stdout', Buffer.from('tial\n'));
    l.push('stdout', Buffer.from('2024-05-01T10:00:03.000000000Z no newline'));
    l.flush();
    assert.deepEqual(lines, [
      { time: '2024-05-01T10:00:00.123Z', stream: 'stdout', line: 'hello' },
      { time: '2024-05-01T10:00:02.000Z', stream: 'stderr', line: 'oops' },
      { time: '2024-05-01T10:00:01.000Z', stream: 'stdout', line: 'partial' },
      { time: '2024-05-01T10:00:03.000Z', stream: 'stdout', line: 'no newline' },
    ]);
  });
});

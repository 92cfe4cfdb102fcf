import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogFile, readLogFiles } from '../../src/drivers/process/log-file.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-logfile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('a task\'s log file', () => {
  it('is made with the first line, not before: a silent task costs no file and reads as an empty log', () => {
    const path = join(dir, 'quiet.log');
    const log = new LogFile(path, 1 << 20, 3);
    assert.equal(existsSync(path), false);
    assert.deepEqual(readLogFiles(path, 3), []);
    log.write('stdout', 'partial');
    assert.equal(existsSync(path), false, 'a line without its newline waits');
    log.write('stdout', ' line\n');
    assert.ok(existsSync(path));
    assert.deepEqual(readLogFiles(path, 3).map((l) => l.line), ['partial line']);
    log.close();
  });

  it('appends to what an earlier process wrote, counting its size toward rotation', () => {
    const path = join(dir, 'again.log');
    const first = new LogFile(path, 200, 2);
    first.write('stdout', 'one\n');
    first.close();
    const second = new LogFile(path, 200, 2);
    second.write('stderr', 'two\n');
    assert.deepEqual(readLogFiles(path, 2).map((l) => `${l.stream}:${l.line}`), ['stdout:one', 'stderr:two']);
    for (let i = 0; i < 5; i++) second.write('stdout', `line ${i}\n`);
    assert.ok(existsSync(`${path}.1`), 'rotated once the earlier bytes and these passed 200');
    second.close();
    const silent = new LogFile(join(dir, 'never.log'), 200, 2);
    silent.close();
    assert.equal(existsSync(join(dir, 'never.log')), false, 'closing a silent log makes no file');
  });
});

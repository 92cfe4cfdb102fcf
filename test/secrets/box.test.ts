import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SecretBox, SecretIntegrityError, SecretKeyError } from '../../src/secrets/index.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-box-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));
  const value = Buffer.from('hunter2-very-secret');

  it('seals so the value is nowhere in the sealed form, and opens it back', () => {
    const sealed = box.seal(value, 'p/db/1');
    const text = JSON.stringify(sealed);
    assert.ok(!text.includes('hunter2'));
    assert.ok(!text.includes(value.toString('base64')));
    assert.deepEqual(box.open(sealed, 'p/db/1'), value);
  });

  it('seals the same value differently each time (fresh IV)', () => {
    assert.notEqual(box.seal(value, 'k').data, box.seal(value, 'k').data);
  });

  it('refuses an altered value, a value moved to another key, and another key', () => {
    const sealed = box.seal(value, 'p/db/1');
    const flipped = Buffer.from(sealed.data, 'base64');
    flipped[0] ^= 1;
    assert.throws(() => box.open({ ...sealed, data: flipped.toString('base64') }, 'p/db/1'), SecretIntegrityError);
    assert.throws(() => box.open(sealed, 'p/other/1'), SecretIntegrityError);
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'p/db/1'), SecretIntegrityError);
  });

  it('versions equal values equally, and differently under another key', () => {
    assert.equal(box.version(value), box.version(Buffer.from(value)));
    assert.notEqual(box.version(value), box.version(Buffer.from('other')));
    assert.notEqual(box.version(value), new SecretBox(randomBytes(32)).version(value));
  });

  it('makes an owner-only key file once and reads the same key after', () => {
    const path = join(dir, 'secrets.key');
    const a = SecretBox.openOrCreate(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const before = readFileSync(path, 'utf8');
    const b = SecretBox.openOrCreate(path);
    assert.equal(readFileSync(path, 'utf8'), before);
    assert.deepEqual(b.open(a.seal(value, 'k'), 'k'), value);
  });

  it('says which file is wrong when the key file is not a key', () => {
    const path = join(dir, 'bad.key');
    writeFileSync(path, 'not a key\n');
    assert.throws(() => SecretBox.openOrCreate(path), (err: Error) => err instanceof SecretKeyError && err.message.includes(path));
  });
});

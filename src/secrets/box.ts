import { createCipheriv, createDecipheriv, createHmac, randomBytes, scryptSync } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { SealedValue } from '../model/types.js';

const KEY_BYTES = 32;

/** A secret could not be opened: wrong key, or the stored value was altered. */
export class SecretIntegrityError extends Error {
  constructor(what: string) {
    super(`${what}: cannot be decrypted with this cluster's key (the key changed or the stored value was altered)`);
    this.name = 'SecretIntegrityError';
  }
}

export class WrongUnlockKeyError extends Error {
  constructor() {
    super('wrong unlock key');
    this.name = 'WrongUnlockKeyError';
  }
}

export interface LockedKey extends SealedValue {
  salt: string;
}

/** What a key file holds: the key, or the key locked under an unlock key. */
export function readKeyFile(path: string): { kind: 'plain'; key: Buffer } | { kind: 'locked'; locked: LockedKey } {
  const text = readFileSync(path, 'utf8').trim();
  if (text.startsWith('{')) {
    let o: Partial<LockedKey> & { locked?: unknown };
    try {
      o = JSON.parse(text) as Partial<LockedKey>;
    } catch {
      throw new SecretKeyError(path, 'not a key file');
    }
    if (o.locked !== 1 || !o.salt || !o.iv || !o.tag || !o.data) throw new SecretKeyError(path, 'not a key file');
    return { kind: 'locked', locked: { salt: o.salt, iv: o.iv, tag: o.tag, data: o.data } };
  }
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES) throw new SecretKeyError(path, `expected a base64 ${KEY_BYTES}-byte key`);
  return { kind: 'plain', key };
}

/** Writes a file so that it is seen whole or not at all, even after a crash (temp file, fsync, rename). */
export function writeWhole(path: string, text: string, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The key file exists but is not a key. */
export class SecretKeyError extends Error {
  constructor(path: string, why: string) {
    super(`${path}: ${why}`);
    this.name = 'SecretKeyError';
  }
}

/**
 * AES-256-GCM with one key per cluster. Each value is sealed with a fresh IV
 * and bound (as associated data) to the store key it is kept under, so a
 * sealed value moved to another secret's record does not open.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`a secret key is ${KEY_BYTES} bytes, got ${key.length}`);
    this.key = Buffer.from(key);
  }

  /** The key at `path`, made (0600, written whole before it is visible) when there is none. */
  static openOrCreate(path: string): SecretBox {
    if (!existsSync(path)) writeWhole(path, randomBytes(KEY_BYTES).toString('base64') + '\n');
    const k = readKeyFile(path);
    if (k.kind === 'locked') throw new SecretKeyError(path, 'the key is locked (autolock): unlock it first');
    return new SecretBox(k.key);
  }

  /** Autolock: writes the key encrypted under a new unlock key, which is returned (and kept nowhere). */
  lockTo(path: string): string {
    const unlockKey = `BTNKEY-${randomBytes(24).toString('base64url')}`;
    const salt = randomBytes(16);
    const wrap = new SecretBox(scryptSync(unlockKey, salt, KEY_BYTES));
    const sealed = wrap.seal(this.key, 'baton cluster key');
    writeWhole(path, JSON.stringify({ locked: 1, salt: salt.toString('base64'), ...sealed }) + '\n');
    return unlockKey;
  }

  /** Autolock off: the key in the clear (0600) again. */
  unlockTo(path: string): void {
    writeWhole(path, this.key.toString('base64') + '\n');
  }

  /** The box of a locked key file, given its unlock key; SecretIntegrityError when the unlock key is wrong. */
  static unlock(locked: LockedKey, unlockKey: string): SecretBox {
    const wrap = new SecretBox(scryptSync(unlockKey.trim(), Buffer.from(locked.salt, 'base64'), KEY_BYTES));
    try {
      return new SecretBox(wrap.open(locked, 'baton cluster key'));
    } catch {
      throw new WrongUnlockKeyError();
    }
  }

  seal(plain: Buffer, boundTo: string): SealedValue {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(boundTo));
    const data = Buffer.concat([c.update(plain), c.final()]);
    return { iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), data: data.toString('base64') };
  }

  open(s: SealedValue, boundTo: string): Buffer {
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(s.iv, 'base64'));
      d.setAAD(Buffer.from(boundTo));
      d.setAuthTag(Buffer.from(s.tag, 'base64'));
      return Buffer.concat([d.update(Buffer.from(s.data, 'base64')), d.final()]);
    } catch {
      throw new SecretIntegrityError(boundTo);
    }
  }

  /** A version id for a value: a keyed hash, so it cannot be used to guess short values. */
  version(plain: Buffer): string {
    return createHmac('sha256', this.key).update(plain).digest('hex').slice(0, 16);
  }
}

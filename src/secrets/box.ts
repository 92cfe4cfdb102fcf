import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
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
    if (!existsSync(path)) {
      const tmp = `${path}.${process.pid}.tmp`;
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, randomBytes(KEY_BYTES).toString('base64') + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    }
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length !== KEY_BYTES) throw new SecretKeyError(path, `expected a base64 ${KEY_BYTES}-byte key`);
    return new SecretBox(key);
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

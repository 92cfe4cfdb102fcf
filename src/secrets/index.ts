export { SecretBox, SecretIntegrityError, SecretKeyError, WrongUnlockKeyError, readKeyFile, writeWhole, type LockedKey } from './box.js';

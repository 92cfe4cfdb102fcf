export { SecretBox, SecretIntegrityError, SecretKeyError, WrongUnlockKeyError, readKeyFile, type LockedKey } from './box.js';

export { SecretBox, SecretIntegrityError, SecretKeyError, WrongUnlockKeyError, readKeyFile, writeWhole, type LockedKey } from './box.js';
export { ClusterCa, CertificateError, makeCsr, caFingerprint, certIdentity, type NodeRole } from './pki.js';

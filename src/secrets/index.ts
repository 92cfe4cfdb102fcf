export { SecretBox, SecretIntegrityError, SecretKeyError } from './box.js';

export { Reconciler } from './reconciler.js';
export { dependencyGate } from './deps.js';

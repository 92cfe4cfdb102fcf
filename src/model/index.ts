export * from './types.js';
export * from './keys.js';
export * from './time.js';
export * from './service.js';
export * from './task.js';

export * from './driver.js';
export { createProcessDriver, ProcessDriver } from './process/driver.js';
export type { ProcessDriverOptions } from './process/driver.js';
export { resolveCommand } from './process/resolve.js';
export { createHollowDriver, HollowDriver } from './hollow.js';
export { createDockerDriver, DockerDriver, engineSocket } from './docker/driver.js';
export type { DockerDriverOptions } from './docker/driver.js';
export type { BuildSpec } from './docker/build.js';
export { EngineWatch } from './docker/engine-watch.js';

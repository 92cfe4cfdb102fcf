export * from './driver.js';
export { createProcessDriver, ProcessDriver } from './process/driver.js';
export type { ProcessDriverOptions } from './process/driver.js';
export { resolveCommand } from './process/resolve.js';
export { createHollowDriver, HollowDriver } from './hollow.js';
// The docker driver itself (and dockerode) loads only once an engine's socket is there: see EngineProbe.
export type { DockerDriver } from './docker/driver.js';
export { engineSocket } from './docker/socket.js';
export { EngineProbe } from './docker/probe.js';
export type { DockerDriverOptions } from './docker/driver.js';
export type { BuildSpec } from './docker/build.js';
export { EngineWatch } from './docker/engine-watch.js';

export { Agent } from './agent.js';
export type { AgentOptions, RunOnceRequest } from './agent.js';
export type { ControlPlane, NodeView, TaskReport, TaskObserved } from './control-plane.js';
export { meshRoutes } from './endpoints.js';
export { taskArgv, taskEnvironment } from './environment.js';
export { taskFilesRoot, containerTarget } from './task-files.js';
export type { TaskFile } from './control-plane.js';
export { containerSpec, ContainerSpecError, imageOf, parseBytes } from './container-spec.js';
export { NodeServer, type NodeServerOptions } from './node-server.js';

export { Reconciler } from './reconciler.js';
export { dependencyGate } from './deps.js';
export { registerNode, heartbeatNode, reportTasks, NodeChanges, readView, viewFor, viewCutter, serviceFiles, projectRegistryAuth, registryAuthLabel, VIEW_KINDS, type FileValue } from './node-plane.js';
export { NodeMonitor, type NodeMonitorOptions } from './nodes.js';

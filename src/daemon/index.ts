export { startDaemon } from './daemon.js';
export type { DaemonOptions, RunningDaemon } from './daemon.js';
export { batonHome, paths } from './home.js';
export { AlreadyRunningError } from './pidfile.js';
export { startAgentNode, JoinError } from './agent-node.js';
export type { AgentNodeOptions, RunningAgentNode } from './agent-node.js';
export { JoinTokenError } from './cluster.js';
export { SubnetError } from '../agent/index.js';

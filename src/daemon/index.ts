export { startDaemon } from './daemon.js';
export type { DaemonOptions, RunningDaemon } from './daemon.js';
export { batonHome, paths } from './home.js';
export { AlreadyRunningError } from './pidfile.js';

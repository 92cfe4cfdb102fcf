export { Mesh, checkPortFree, allocatePort } from './tcp-proxy.js';
export type { Route, Backend, ApplyResult, RouteStatus } from './tcp-proxy.js';

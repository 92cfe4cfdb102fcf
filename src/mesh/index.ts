export { Mesh, checkPortFree, allocatePort } from './tcp-proxy.js';
export type {
  Route,
  Backend,
  Balance,
  ApplyResult,
  RouteError,
  RouteStatus,
  BackendStatus,
  MeshOptions,
} from './tcp-proxy.js';

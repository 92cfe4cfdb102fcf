export { ApiServer } from './server.js';
export { ApiClient, ApiRequestError, ApiUnreachableError } from './client.js';
export type { ClientTarget } from './client.js';
export { ApiError, ImageError } from './errors.js';
export type { ApiProblem } from './errors.js';
export type * from './types.js';
export { deployProject } from './deploy.js';
export { ClusterServer, type ClusterHooks, type JoinAnswer, type JoinRequest, type JoinRole } from './cluster-server.js';
export { ClusterClient, ClusterRequestError, NodeClient, fetchCa, splitHostPort, type NodeAddress } from './cluster-client.js';

// Every route of the API and the least role that may call it. The server
// refuses to register a route missing here, so none goes unchecked.
import type { Role } from '../model/types.js';

export interface RouteRole {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  role: Role;
}

export const ROUTES: readonly RouteRole[] = [
  { method: 'GET', path: '/v1/version', role: 'viewer' },
  { method: 'GET', path: '/v1/nodes', role: 'viewer' },
  { method: 'GET', path: '/v1/nodes/:id', role: 'viewer' },
  // Draining a node moves tasks; removing one revokes its certificate: the cluster's shape is the admin's.
  { method: 'POST', path: '/v1/nodes/:id', role: 'admin' },
  { method: 'DELETE', path: '/v1/nodes/:id', role: 'admin' },
  // A join token lets a machine into the cluster: admin only.
  { method: 'GET', path: '/v1/cluster/join-token/:role', role: 'admin' },
  { method: 'POST', path: '/v1/cluster/join-token/:role', role: 'admin' },
  { method: 'GET', path: '/v1/projects', role: 'viewer' },
  { method: 'GET', path: '/v1/projects/:name', role: 'viewer' },
  { method: 'GET', path: '/v1/projects/:name/logs', role: 'viewer' },
  { method: 'GET', path: '/v1/projects/:name/stats', role: 'viewer' },
  { method: 'GET', path: '/v1/projects/:name/top', role: 'viewer' },
  { method: 'GET', path: '/v1/projects/:name/images', role: 'viewer' },
  { method: 'GET', path: '/v1/projects/:name/services/:service/history', role: 'viewer' },
  { method: 'GET', path: '/v1/events', role: 'viewer' },
  { method: 'POST', path: '/v1/projects/:name/deploy', role: 'deployer' },
  { method: 'DELETE', path: '/v1/projects/:name', role: 'deployer' },
  { method: 'POST', path: '/v1/projects/:name/scale', role: 'deployer' },
  { method: 'POST', path: '/v1/projects/:name/stop', role: 'deployer' },
  { method: 'POST', path: '/v1/projects/:name/start', role: 'deployer' },
  { method: 'POST', path: '/v1/projects/:name/restart', role: 'deployer' },
  { method: 'POST', path: '/v1/projects/:name/kill', role: 'deployer' },
  { method: 'POST', path: '/v1/projects/:name/pause', role: 'deployer' },
  { method: 'POST', path: '/v1/projects/:name/unpause', role: 'deployer' },
  { method: 'POST', path: '/v1/projects/:name/services/:service/update', role: 'deployer' },
  { method: 'POST', path: '/v1/projects/:name/services/:service/rollback', role: 'deployer' },
  // Runs commands inside a task: as much power as a deploy.
  { method: 'POST', path: '/v1/projects/:name/exec', role: 'deployer' },
  { method: 'POST', path: '/v1/projects/:name/run', role: 'deployer' },
  // Files in and out of a task (secrets included): as much as exec.
  { method: 'GET', path: '/v1/projects/:name/archive', role: 'deployer' },
  { method: 'POST', path: '/v1/projects/:name/archive', role: 'deployer' },
  // Sends a folder of the daemon's machine to the engine's builder: as much as a deploy.
  { method: 'POST', path: '/v1/projects/:name/build', role: 'deployer' },
  { method: 'POST', path: '/v1/projects/:name/pull', role: 'deployer' },
  // Sends this node's images to a registry with the caller's credentials: as much as a deploy.
  { method: 'POST', path: '/v1/projects/:name/push', role: 'deployer' },
  // Checks credentials the caller already holds; nothing is kept.
  { method: 'POST', path: '/v1/registry/login', role: 'deployer' },
  // Names, versions and sizes only; a deployer needs them to write a project that uses them.
  { method: 'GET', path: '/v1/secrets', role: 'deployer' },
  { method: 'GET', path: '/v1/secrets/:name', role: 'deployer' },
  { method: 'GET', path: '/v1/configs', role: 'deployer' },
  { method: 'GET', path: '/v1/configs/:name', role: 'deployer' },
  { method: 'POST', path: '/v1/secrets', role: 'admin' },
  { method: 'DELETE', path: '/v1/secrets/:name', role: 'admin' },
  { method: 'POST', path: '/v1/configs', role: 'admin' },
  { method: 'DELETE', path: '/v1/configs/:name', role: 'admin' },
  { method: 'GET', path: '/v1/tokens', role: 'admin' },
  { method: 'POST', path: '/v1/tokens', role: 'admin' },
  { method: 'DELETE', path: '/v1/tokens/:id', role: 'admin' },
  { method: 'POST', path: '/v1/autolock', role: 'admin' },
];

const RANK: Record<Role, number> = { viewer: 1, deployer: 2, admin: 3 };

export const ROLES: readonly Role[] = ['viewer', 'deployer', 'admin'];

export function allows(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

export function routeRole(method: string, path: string): Role {
  const r = ROUTES.find((x) => x.method === method && x.path === path);
  if (!r) throw new Error(`internal: route ${method} ${path} has no role in ROUTES`);
  return r.role;
}

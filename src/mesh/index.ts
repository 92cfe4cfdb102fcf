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
export { HttpIngress } from './http-ingress.js';
export type { HttpRoute, HttpBackend, HttpIngressOptions } from './http-ingress.js';
export { CertManager } from './certs.js';
export type { AcmeOptions, CertSource } from './certs.js';
export { DnsServer, resolvConfServers } from './dns.js';
export type { DnsZone, DnsError, DnsServerOptions } from './dns.js';

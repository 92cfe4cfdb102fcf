/** The engine's unix socket: DOCKER_HOST (unix:// or a path), else /var/run/docker.sock. */
export function engineSocket(host = process.env.DOCKER_HOST): string {
  if (!host) return '/var/run/docker.sock';
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new Error(`DOCKER_HOST "${host}": only unix:// sockets are supported`);
}

/** Credentials for one registry, as the engine takes them (its X-Registry-Auth). */
export interface RegistryAuth {
  serveraddress: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

/** Docker Hub, as image references without a registry name it. */
export const DOCKER_HUB = 'docker.io';

/** The server address of a registry as Docker keys its logins: Docker Hub under its historical v1 URL, others by host[:port]. */
export function serverAddress(registry: string): string {
  return registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
}

/**
 * The registry an image reference names, as Docker reads it: a first path
 * part with a dot or a port, or `localhost`, is a registry; anything else is
 * on Docker Hub ("nginx", "library/nginx", "bitnami/redis").
 */
export function registryOf(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return DOCKER_HUB;
  const first = image.slice(0, slash);
  if (first === 'localhost' || first.includes('.') || first.includes(':')) return normalizeRegistry(first);
  return DOCKER_HUB;
}

/**
 * One name for a registry, whatever form a config file keys it by:
 * "https://index.docker.io/v1/", "registry-1.docker.io" and "docker.io" are
 * Docker Hub; a scheme and a path are dropped ("http://127.0.0.1:5000/v2/"
 * is "127.0.0.1:5000"); lower case.
 */
export function normalizeRegistry(key: string): string {
  let host = key.trim().toLowerCase().replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  if (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === 'registry.hub.docker.com') return DOCKER_HUB;
  return host;
}

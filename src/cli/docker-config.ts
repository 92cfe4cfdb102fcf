// Registry credentials where the Docker CLI keeps them, so `docker login`
// and `baton login` serve each other: `$DOCKER_CONFIG/config.json` (default
// `~/.docker/config.json`), its `auths` entries, and credential helpers
// (`credsStore`, `credHelpers`: `docker-credential-<name> get|store|erase`,
// the protocol Docker's helpers speak).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { normalizeRegistry, registryOf, serverAddress, type RegistryAuth } from '../model/image-ref.js';
import { UserError } from './errors.js';

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [other: string]: unknown;
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
}

function readConfig(path: string): DockerConfig {
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UserError(`${path}: expected a JSON object`);
  return parsed as DockerConfig;
}

/** Runs a credential helper; its stdout, or undefined when it has nothing for this server. Throws when the helper is missing or broken. */
function helper(name: string, action: 'get' | 'store' | 'erase' | 'list', input: string, env: NodeJS.ProcessEnv): string | undefined {
  const bin = `docker-credential-${name}`;
  const r = spawnSync(bin, [action], { input, encoding: 'utf8', timeout: 30_000, env });
  if (r.error) throw new Error(`credential helper ${bin}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found on PATH' : r.error.message}`);
  if (r.status !== 0) {
    const said = (r.stdout || r.stderr).trim();
    if (action !== 'store' && /credentials not found/i.test(said)) return undefined;
    throw new Error(`credential helper ${bin} ${action}: ${said || `exit ${r.status}`}`);
  }
  return r.stdout;
}

function helperFor(cfg: DockerConfig, registry: string): string | undefined {
  for (const [k, v] of Object.entries(cfg.credHelpers ?? {})) if (normalizeRegistry(k) === registry && typeof v === 'string' && v) return v;
  return typeof cfg.credsStore === 'string' && cfg.credsStore ? cfg.credsStore : undefined;
}

function fromEntry(key: string, e: AuthEntry, path: string): RegistryAuth | undefined {
  if (e.identitytoken) return { serveraddress: key, identitytoken: e.identitytoken };
  if (e.auth) {
    const plain = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon < 0) throw new UserError(`${path}: auths."${key}".auth: expected base64 of "user:password"`);
    return { serveraddress: key, username: plain.slice(0, colon), password: plain.slice(colon + 1) };
  }
  if (e.username !== undefined && e.password !== undefined) return { serveraddress: key, username: e.username, password: e.password };
  return undefined;
}

/**
 * The credentials this user has for a registry, or undefined. A credential
 * helper that fails is reported through `warn` and treated as having none,
 * so public images still pull.
 */
export function credentialsFor(registry: string, warn: (msg: string) => void, env: NodeJS.ProcessEnv = process.env): RegistryAuth | undefined {
  return credentialsByRegistry([registry], warn, env)[registry];
}

/** Credentials for the registries of these images, by registry: what a pull sends along. */
export function credentialsForImages(images: string[], warn: (msg: string) => void, env: NodeJS.ProcessEnv = process.env): Record<string, RegistryAuth> {
  return credentialsByRegistry(images.map(registryOf), warn, env);
}

/**
 * Every login this user has (config.json's auths, credHelpers, and what the
 * credsStore helper lists), by registry: what a build sends, as `docker
 * build` does, since any FROM line may need one.
 */
export function allCredentials(warn: (msg: string) => void, env: NodeJS.ProcessEnv = process.env): Record<string, RegistryAuth> {
  const path = dockerConfigPath(env);
  const cfg = readConfig(path);
  const registries = new Set([...Object.keys(cfg.auths ?? {}), ...Object.keys(cfg.credHelpers ?? {})].map(normalizeRegistry));
  if (typeof cfg.credsStore === 'string' && cfg.credsStore) {
    try {
      const listed = JSON.parse(helper(cfg.credsStore, 'list', '', env) ?? '{}') as Record<string, string>;
      for (const server of Object.keys(listed)) registries.add(normalizeRegistry(server));
    } catch (err) {
      warn(`${path}: ${(err as Error).message}`);
    }
  }
  return lookUp(cfg, path, [...registries], warn, env);
}

/** The credentials for these registries, the config file read once. */
function credentialsByRegistry(registries: string[], warn: (msg: string) => void, env: NodeJS.ProcessEnv): Record<string, RegistryAuth> {
  const path = dockerConfigPath(env);
  return lookUp(readConfig(path), path, registries, warn, env);
}

function lookUp(cfg: DockerConfig, path: string, registries: string[], warn: (msg: string) => void, env: NodeJS.ProcessEnv): Record<string, RegistryAuth> {
  const out: Record<string, RegistryAuth> = {};
  for (const r of new Set(registries)) {
    const c = fromConfig(cfg, path, r, warn, env);
    if (c) out[r] = c;
  }
  return out;
}

/** One registry's credentials: its helper first (credHelpers, then credsStore), then config.json's auths. */
function fromConfig(cfg: DockerConfig, path: string, registry: string, warn: (msg: string) => void, env: NodeJS.ProcessEnv): RegistryAuth | undefined {
  const name = helperFor(cfg, registry);
  if (name) {
    try {
      const out = helper(name, 'get', serverAddress(registry), env);
      if (out) {
        const got = JSON.parse(out) as { Username?: string; Secret?: string };
        if (got.Username === '<token>') return { serveraddress: serverAddress(registry), identitytoken: got.Secret ?? '' };
        return { serveraddress: serverAddress(registry), username: got.Username ?? '', password: got.Secret ?? '' };
      }
    } catch (err) {
      warn(`${path}: ${(err as Error).message}; going on without credentials for ${registry}`);
    }
  }
  for (const [k, e] of Object.entries(cfg.auths ?? {})) {
    if (normalizeRegistry(k) !== registry || !e || typeof e !== 'object') continue;
    const found = fromEntry(k, e, path);
    if (found) return found;
  }
  return undefined;
}

/** Where `login` puts credentials: the helper when one is set (as Docker does), else config.json's auths (mode 0600). Returns where they went. */
export function saveCredentials(registry: string, username: string, password: string, env: NodeJS.ProcessEnv = process.env): string {
  const path = dockerConfigPath(env);
  const cfg = readConfig(path);
  const key = serverAddress(registry);
  const name = helperFor(cfg, registry);
  if (name) {
    helper(name, 'store', JSON.stringify({ ServerURL: key, Username: username, Secret: password }), env);
    return `docker-credential-${name}`;
  }
  cfg.auths = { ...(cfg.auths ?? {}) };
  for (const k of Object.keys(cfg.auths)) if (normalizeRegistry(k) === registry) delete cfg.auths[k];
  cfg.auths[key] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
  writeConfig(path, cfg);
  return path;
}

/** Forgets a registry's credentials; false when there were none. */
export function removeCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const path = dockerConfigPath(env);
  const cfg = readConfig(path);
  let removed = false;
  const name = helperFor(cfg, registry);
  if (name) {
    try {
      removed = helper(name, 'erase', serverAddress(registry), env) !== undefined;
    } catch {
      /* nothing there to erase */
    }
  }
  const auths = { ...(cfg.auths ?? {}) };
  for (const k of Object.keys(auths)) {
    if (normalizeRegistry(k) !== registry) continue;
    delete auths[k];
    removed = true;
  }
  if (cfg.auths && Object.keys(auths).length !== Object.keys(cfg.auths).length) writeConfig(path, { ...cfg, auths });
  return removed;
}

/** Written whole, then renamed: a crash leaves the old file or the new one, never half of one. */
function writeConfig(path: string, cfg: DockerConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

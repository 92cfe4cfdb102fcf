import type { RegistryAuth } from '../model/image-ref.js';
import { badRequest } from './errors.js';

/** Registry credentials from a request body, each field checked and named when wrong. */
export function registryAuth(v: unknown, at: string): RegistryAuth {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest(`${at}: expected an object with serveraddress and username/password or identitytoken`);
  const o = v as Record<string, unknown>;
  const out: RegistryAuth = { serveraddress: '' };
  for (const key of ['serveraddress', 'username', 'password', 'identitytoken'] as const) {
    if (o[key] === undefined) continue;
    if (typeof o[key] !== 'string') throw badRequest(`${at}.${key}: expected a string`);
    out[key] = o[key] as string;
  }
  if (!out.serveraddress) throw badRequest(`${at}.serveraddress: required`);
  if (!out.identitytoken && (out.username === undefined || out.password === undefined)) throw badRequest(`${at}: needs username and password, or identitytoken`);
  return out;
}

/** Credentials by registry (`auth` of a pull, `registryAuth` of a deploy); undefined when absent. */
export function registryAuthMap(v: unknown, at: string): Record<string, RegistryAuth> | undefined {
  if (v === undefined) return undefined;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest(`${at}: expected an object of credentials by registry`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, registryAuth(x, `${at}.${k}`)]));
}

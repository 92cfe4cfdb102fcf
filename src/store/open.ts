import type { Store } from './store.js';
import { openSqliteStore } from './sqlite.js';

/** A store from a URL: `sqlite:PATH` or a bare path. */
export function openStore(url: string): Store {
  if (url.startsWith('etcd://')) throw new Error('the etcd store backend is not built yet; use sqlite:PATH');
  return openSqliteStore(url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url);
}

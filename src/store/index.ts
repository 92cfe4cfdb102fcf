export * from './store.js';
export { SqliteStore, openSqliteStore } from './sqlite.js';
export { openStore } from './open.js';

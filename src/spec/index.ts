// The Compose loader's public entry: files + environment -> normalized, typed project.
export * from './types.js';
export { SpecError, formatProblem } from './errors.js';
export { parseDuration } from './duration.js';
export { loadProject } from './load.js';
export { configObject, formatConfig, goDuration, unitBytes, type FormatOptions } from './config-format.js';
export { interpolate } from './interpolate.js';
export { shellSplit } from './shell.js';
export { parseDotenv } from './dotenv.js';
export { normalizeProjectName } from './discover.js';
export { SCHEMA_SOURCE } from './schema.js';
export { fileSources, MAX_SOURCE_BYTES, type FileSources } from './sources.js';
export { locateKey, type KeyPosition } from './locate.js';

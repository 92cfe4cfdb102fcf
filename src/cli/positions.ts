import { ApiRequestError } from '../api/client.js';
import { locateKey } from '../spec/locate.js';
import type { ComposeProject } from '../spec/types.js';

/** The daemon names keys ("services.web.ports"); the files they were written in give them a line. */
export function withPositions(err: ApiRequestError, p: ComposeProject): ApiRequestError {
  const problems = err.problems.map((x) => {
    const at = x.path ? locateKey(p, x.path) : undefined;
    return at ? { ...x, path: `${at.line ? `${at.file}:${at.line}:${at.col ?? 1}` : at.file}: ${x.path}` } : x;
  });
  return new ApiRequestError(err.status, err.code, err.message, problems);
}

// A one-off container of a service (`baton run`), as the API, the agent and a
// manager relaying it to a node describe it.
import type { Project, Service } from './types.js';

export interface RunOnceRequest {
  /** The command; the service's own when empty. */
  argv?: string[];
  entrypoint?: string[];
  /** KEY=VALUE */
  env?: string[];
  user?: string;
  workdir?: string;
  /** Remove the container once it has exited. */
  rm: boolean;
}

/** A manager's relayed `baton run`: the service (and its project) as the manager stores them, and what to run. */
export interface NodeRunBody {
  service: Service;
  project?: Project;
  run: RunOnceRequest;
  tty?: boolean;
  stdin?: boolean;
  size?: unknown;
}

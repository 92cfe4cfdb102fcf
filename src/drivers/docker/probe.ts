import { existsSync } from 'node:fs';
import type { DockerDriver, DockerDriverOptions } from './driver.js';
import { engineSocket } from './socket.js';

/**
 * Finds the engine without loading the Engine API client (dockerode and the
 * SSH stack under it, some 15 MB of a daemon's memory, which every fork of a
 * process task copies the page tables of) until a socket is there: a look on
 * a machine without Docker costs one stat.
 */
export class EngineProbe {
  private driver: DockerDriver | undefined;
  private readonly socket: string;

  constructor(private readonly opts: DockerDriverOptions) {
    this.socket = engineSocket(opts.host);
  }

  /** The driver when an engine answers now; undefined otherwise. */
  async look(): Promise<DockerDriver | undefined> {
    if (!existsSync(this.socket)) return undefined;
    this.driver ??= (await import('./driver.js')).createDockerDriver(this.opts);
    return (await this.driver.available()) ? this.driver : undefined;
  }
}

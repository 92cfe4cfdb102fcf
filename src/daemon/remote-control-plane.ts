import type { ControlPlane, NodeView, TaskFile, TaskReport } from '../agent/control-plane.js';
import { ClusterRequestError, type ClusterClient } from '../api/index.js';
import type { EventInput, NodeInfo, Service } from '../model/types.js';
import type { RegistryAuth } from '../model/image-ref.js';
import { toNodeView } from './local-control-plane.js';

/** How long a view request waits on the manager for a change. */
const POLL_WAIT_MS = 20_000;

/**
 * The agent's link to a manager on another machine: the cluster API over
 * mutual TLS. Views are long-polled; a lost manager is retried with back-off
 * while the node keeps running what it has, as Swarm's workers do.
 */
export class RemoteControlPlane implements ControlPlane {
  private closed = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly client: ClusterClient,
    private readonly log: (m: string) => void,
    /** Called when the manager says this node is no longer a member. */
    private readonly onRemoved: (message: string) => void,
  ) {}

  close(): void {
    this.closed = true;
    this.abort.abort();
    this.client.close();
  }

  async register(node: NodeInfo): Promise<void> {
    await this.retry('register', () => this.client.register(node));
  }

  async heartbeat(): Promise<void> {
    try {
      await this.client.heartbeat();
    } catch (err) {
      this.check(err);
      throw err;
    }
  }

  async subscribe(onView: (v: NodeView) => void): Promise<() => void> {
    let rev = 0;
    const first = await this.retry('view', () => this.client.view(0, 0, this.abort.signal));
    rev = first.revision;
    onView(toNodeView(first));
    void (async () => {
      let failures = 0;
      while (!this.closed) {
        try {
          const v = await this.client.view(rev, POLL_WAIT_MS, this.abort.signal);
          failures = 0;
          if (v.revision !== rev) {
            rev = v.revision;
            onView(toNodeView(v));
          }
        } catch (err) {
          if (this.closed) return;
          this.check(err);
          if (failures++ === 0) this.log(`lost the manager: ${(err as Error).message}; retrying`);
          await sleep(Math.min(2000, 100 * 2 ** Math.min(failures, 5)));
        }
      }
    })();
    return () => this.close();
  }

  async report(reports: TaskReport[]): Promise<void> {
    try {
      await this.client.report(reports);
    } catch (err) {
      this.check(err);
      throw err;
    }
  }

  async event(e: EventInput): Promise<void> {
    await this.client.event(e).catch((err: Error) => this.check(err));
  }

  async taskFiles(svc: Service): Promise<TaskFile[]> {
    return this.client.files(svc.id);
  }

  async registryAuth(project: string, image: string): Promise<RegistryAuth | undefined> {
    return this.client.registryAuth(project, image);
  }

  private check(err: unknown): void {
    if (err instanceof ClusterRequestError && err.code === 'node_removed') this.onRemoved(err.message);
  }

  /** Tries until it works (the manager may be restarting), unless the node was removed. */
  private async retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        this.check(err);
        if (this.closed || (err instanceof ClusterRequestError && err.status >= 400 && err.status < 500)) throw err;
        if (attempt === 0) this.log(`${what}: ${(err as Error).message}; retrying`);
        await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

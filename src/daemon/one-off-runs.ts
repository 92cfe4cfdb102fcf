// `baton run` on a manager whose own engine cannot take the container (it has
// none, or the service's placement constraints rule this node out): the run
// goes to a node that can, over that node's port, and while it runs that node
// may fetch the service's secrets, configs and registry credentials, as a
// node running one of its tasks may.
import type { NodeAddress, NodeClient } from '../api/index.js';
import { keys } from '../model/keys.js';
import type { RunOnceRequest } from '../model/one-off.js';
import type { StdioOutput, StdioSession, TermSize } from '../model/stdio.js';
import type { NodeInfo, Service } from '../model/types.js';
import { eligibleNodes } from '../scheduler/index.js';
import type { Store } from '../store/index.js';

/** Where a run goes: this node (undefined) or another one. */
export type RunPlace = (NodeAddress & { id: string; hostname: string }) | undefined;

export class OneOffRuns {
  /** Runs relayed and not yet ended, by "node/project/service". */
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly nodes: NodeClient,
    private readonly selfId: string,
    /** Whether this node's driver of that name runs containers. */
    private readonly runsHere: (driver: string) => boolean,
  ) {}

  /**
   * This node when it can run the service's container and its placement allows it; else the node that can,
   * preferring one that runs a task of the service. Throws saying why none can.
   */
  async place(svc: Service): Promise<RunPlace> {
    const here = this.runsHere(svc.driver);
    const all = (await this.store.list('node')).map((v) => v.value);
    const eligible = eligibleNodes(svc, all);
    if (here && eligible.some((n) => n.id === this.selfId)) return undefined;
    const tasks = (await this.store.list('task', keys.taskPrefix(svc.project, svc.name))).map((v) => v.value);
    const runsOne = (n: NodeInfo): number => (tasks.some((t) => t.node === n.id && t.desiredState === 'running') ? 0 : 1);
    const others = eligible.filter((n) => n.id !== this.selfId && n.apiPort).sort((a, b) => runsOne(a) - runsOne(b));
    const to = others[0];
    if (!to) {
      if (here) return undefined;
      throw new Error(`no node can run a one-off container of service "${svc.name}": none that is ready and active offers the ${svc.driver} driver within its placement constraints`);
    }
    return { id: to.id, hostname: to.hostname, address: to.address, port: to.apiPort! };
  }

  /** Starts the run on that node; its session, relayed. The node may fetch the service's files and credentials until it ends. */
  async relay(to: NonNullable<RunPlace>, svc: Service, run: RunOnceRequest, io: { tty: boolean; stdin: boolean; size?: TermSize }, onOutput: StdioOutput): Promise<StdioSession> {
    const key = `${to.id}/${svc.project}/${svc.name}`;
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    const release = (): void => {
      const n = (this.inFlight.get(key) ?? 1) - 1;
      if (n > 0) this.inFlight.set(key, n);
      else this.inFlight.delete(key);
    };
    try {
      const project = (await this.store.get('project', keys.project(svc.project)))?.value;
      const session = await this.nodes.runAttached(to, { service: svc, ...(project ? { project } : {}), run, ...io }, onOutput);
      session.done.then(release, release);
      return session;
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Whether `nodeId` runs a relayed one-off container of the project (of that service, when named). */
  allows(nodeId: string, project: string, service?: string): boolean {
    const prefix = `${nodeId}/${project}/`;
    for (const k of this.inFlight.keys()) if (service === undefined ? k.startsWith(prefix) : k === `${prefix}${service}`) return true;
    return false;
  }
}

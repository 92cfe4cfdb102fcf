// `baton agent --join HOST:PORT --token TOKEN`: a worker node. The first start
// joins (trusting the manager through the token's CA fingerprint, sending a
// CSR for a key made here); later starts reuse the certificate in its home.
import { existsSync, mkdirSync, readFileSync, chmodSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Agent, NodeServer, parseSubnet, taskFilesRoot } from '../agent/index.js';
import { ClusterClient, fetchCa } from '../api/index.js';
import type { Driver } from '../drivers/driver.js';
import { EngineProbe, EngineWatch, createHollowDriver, createProcessDriver } from '../drivers/index.js';
import { caFingerprint, certIdentity, makeCsr, writeWhole } from '../secrets/index.js';
import { VERSION } from '../version.js';
import { parseJoinToken } from './cluster.js';
import { acquirePidfile } from './pidfile.js';
import { nodeNetwork } from './node-network.js';
import { RemoteControlPlane } from './remote-control-plane.js';

export interface AgentNodeOptions {
  home: string;
  /** host:port of a manager's node port; needed to join, optional later (the saved one is used). */
  join?: string;
  token?: string;
  /** The address other nodes reach this one at (default: as the manager sees it). */
  advertiseAddr?: string;
  labels?: Record<string, string>;
  heartbeatMs?: number;
  /** The node's own port for its managers (logs, stats, exec of its tasks); 0 or absent: any free port. */
  nodePort?: number;
  httpPort?: number;
  httpsPort?: number;
  /** Drivers to offer; default: process, hollow, and docker when an engine answers. */
  drivers?: string[];
  log?: (msg: string) => void;
  /** Process tasks reach services by name (a loopback address per service); default $BATON_SERVICE_NAMES=1. */
  serviceNames?: boolean;
  /** Service VIPs and DNS for containers from this block (CIDR); off when absent. */
  serviceSubnet?: string;
  /** Called when the managers removed this node: it has stopped its tasks. */
  onRemoved?: (message: string) => void;
}

/** Joining failed for a reason the user must fix (bad token, wrong manager). */
export class JoinError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JoinError';
  }
}

interface Membership {
  manager: string;
  nodeId: string;
  clusterId: string;
  role: string;
}

export interface RunningAgentNode {
  nodeId: string;
  close(opts?: { stopTasks?: boolean }): Promise<void>;
}

export async function startAgentNode(opts: AgentNodeOptions): Promise<RunningAgentNode> {
  const log = opts.log ?? ((m: string) => console.error(`${new Date().toISOString()} ${m}`));
  const serviceSubnet = opts.serviceSubnet ? parseSubnet(opts.serviceSubnet) : undefined;
  mkdirSync(opts.home, { recursive: true, mode: 0o700 });
  chmodSync(opts.home, 0o700);
  const release = acquirePidfile(join(opts.home, 'agent.pid'));
  try {
    const dir = join(opts.home, 'node');
    const f = { key: join(dir, 'node.key'), cert: join(dir, 'node.crt'), ca: join(dir, 'ca.crt'), state: join(dir, 'membership.json') };
    let member: Membership;
    if (existsSync(f.state) && existsSync(f.cert) && existsSync(f.key) && existsSync(f.ca)) {
      member = JSON.parse(readFileSync(f.state, 'utf8')) as Membership;
      if (opts.join && opts.join !== member.manager) {
        member = { ...member, manager: opts.join };
        writeWhole(f.state, JSON.stringify(member), 0o600);
      }
      if (opts.token) log(`already a member of cluster ${member.clusterId} as node ${member.nodeId}; --token is not needed again`);
    } else {
      if (!opts.join || !opts.token) throw new JoinError('this node has not joined a cluster yet: give --join HOST:PORT and --token TOKEN (from baton join-token worker on a manager)');
      member = await joinCluster(opts.join, opts.token, dir, f);
      log(`joined cluster ${member.clusterId} as node ${member.nodeId} (${member.role})`);
    }

    const ca = readFileSync(f.ca, 'utf8');
    const client = new ClusterClient({ manager: member.manager, ca, cert: readFileSync(f.cert, 'utf8'), key: readFileSync(f.key, 'utf8') });
    const nodeId = member.nodeId;
    const wanted = opts.drivers;
    const drivers = new Map<string, Driver>();
    if (!wanted || wanted.includes('process')) drivers.set('process', createProcessDriver({ home: opts.home, instance: nodeId }));
    if (!wanted || wanted.includes('hollow')) drivers.set('hollow', createHollowDriver());
    let engineWatch: EngineWatch | undefined;
    if (!wanted || wanted.includes('docker')) {
      // Images this engine lacks (built ones above all) come from the manager's engine before any registry.
      const probe = new EngineProbe({ instance: nodeId, log, imageSource: (name) => client.image(name) });
      const docker = await probe.look();
      if (docker) drivers.set('docker', docker);
      // An engine that starts after the agent: taken in when it answers, the node registered again with it.
      else {
        engineWatch = new EngineWatch(probe, {
          intervalMs: 5_000,
          log,
          onUp: async (d) => {
            await d.recover([]);
            await agent!.addDriver('docker', d);
            log('docker: the engine answers now; this node runs containers');
          },
        });
      }
    }
    const { mesh, certs, ingress } = nodeNetwork({ home: opts.home, httpPort: opts.httpPort, httpsPort: opts.httpsPort, log });
    let agent: Agent | undefined;
    const nodeServer = new NodeServer({
      drivers,
      cert: readFileSync(f.cert, 'utf8'),
      key: readFileSync(f.key, 'utf8'),
      ca,
      clusterId: member.clusterId,
      log,
      runAttached: (svc, req, io, onOutput, project) => {
        if (!agent) throw new Error('this node is still starting');
        return agent.runAttached(svc, req, io, onOutput, project);
      },
    });
    const apiPort = await nodeServer.listen(opts.advertiseAddr ?? '0.0.0.0', opts.nodePort ?? 0);
    let closing: Promise<void> | undefined;
    const close = (o: { stopTasks?: boolean } = {}): Promise<void> => {
      closing ??= (async () => {
        engineWatch?.stop();
        cp.close();
        await nodeServer.close();
        await agent?.close(o.stopTasks ?? true);
        await mesh.close();
        await ingress.close();
        certs.close();
        for (const d of drivers.values()) await d.close();
        release();
      })();
      return closing;
    };
    const cp = new RemoteControlPlane(client, log, (message) => {
      log(`${message}: stopping every task of this node`);
      void close({ stopTasks: true }).then(() => opts.onRemoved?.(message));
    });
    agent = new Agent({
      nodeId,
      cp,
      drivers,
      mesh,
      log,
      filesRoot: taskFilesRoot(opts.home, nodeId),
      ingress,
      certs,
      heartbeatMs: opts.heartbeatMs ?? 1000,
      nodePorts: true,
      ...(opts.serviceNames !== undefined ? { serviceNames: opts.serviceNames } : {}),
      ...(serviceSubnet ? { serviceSubnet } : {}),
      identity: { hostname: hostname(), address: opts.advertiseAddr ?? '', role: member.role === 'manager' ? 'manager' : 'worker', labels: opts.labels ?? {}, apiPort, version: VERSION },
    });
    await agent.start();
    engineWatch?.start();
    log(`baton agent ${VERSION} ready: node ${nodeId}, manager ${member.manager}, drivers ${[...drivers.keys()].join(', ')}`);
    return { nodeId, close };
  } catch (err) {
    release();
    throw err;
  }
}

async function joinCluster(manager: string, token: string, dir: string, f: { key: string; cert: string; ca: string; state: string }): Promise<Membership> {
  let want: { fingerprint: string };
  try {
    want = parseJoinToken(token);
  } catch (err) {
    throw new JoinError((err as Error).message);
  }
  const ca = await fetchCa(manager);
  // The token carries the CA's fingerprint: a manager that shows another CA is not the one the token is for.
  if (caFingerprint(ca) !== want.fingerprint) throw new JoinError(`the manager at ${manager} does not hold the CA this token names: refusing to join`);
  const { keyPem, csrPem } = await makeCsr();
  const client = new ClusterClient({ manager, ca });
  let answer;
  try {
    answer = await client.join({ token, csr: csrPem, hostname: hostname() });
  } catch (err) {
    throw new JoinError(`join refused by ${manager}: ${(err as Error).message}`);
  } finally {
    client.close();
  }
  const who = certIdentity(answer.cert);
  if (who.nodeId !== answer.nodeId) throw new JoinError('the manager answered with a certificate for another node');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // The key first, the membership last: a crash part way leaves a node that simply joins again.
  writeWhole(f.key, keyPem, 0o600);
  writeWhole(f.cert, answer.cert, 0o644);
  writeWhole(f.ca, answer.ca, 0o644);
  const member: Membership = { manager, nodeId: answer.nodeId, clusterId: answer.clusterId, role: answer.role };
  writeWhole(f.state, JSON.stringify(member), 0o600);
  return member;
}

// The Compose service keys the Docker engine takes as written: namespaces
// (network_mode, pid, ipc, uts), security options, DNS search domains, a TTY,
// CPU and memory knobs. Checked here, so a bad value is refused at deploy
// naming its key, not by the engine when a task starts.
import type { BlkioOptions, EngineOptions } from '../drivers/driver.js';
import { ComposeValueError, isObj, parseBytes, strings, stringMap, type Obj } from '../model/compose-values.js';

const MODES: Record<string, RegExp> = {
  network_mode: /^(host|none|bridge|(container|service):.+)$/,
  pid: /^(host|(container|service):.+)$/,
  ipc: /^(host|none|private|shareable|(container|service):.+)$/,
  uts: /^host$/,
};
const EXPECTED: Record<string, string> = {
  network_mode: 'host, none, bridge, service:NAME or container:NAME',
  pid: 'host, service:NAME or container:NAME',
  ipc: 'host, none, private, shareable, service:NAME or container:NAME',
  uts: 'host',
};

export function engineOptions(svc: string, raw: Obj): EngineOptions {
  const text = (key: string): string | undefined => {
    const v = raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new ComposeValueError(svc, key, `expected a string, got ${JSON.stringify(v)}`);
    return v;
  };
  const mode = (key: keyof typeof MODES): string | undefined => {
    const v = text(key);
    if (v !== undefined && !MODES[key].test(v)) throw new ComposeValueError(svc, key, `expected ${EXPECTED[key]}, got "${v}"`);
    return v;
  };
  const bool = (key: string): boolean | undefined => {
    const v = raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw new ComposeValueError(svc, key, `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const int = (key: string, min = -Infinity, max = Infinity): number | undefined => {
    const v = raw[key];
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new ComposeValueError(svc, key, `expected a whole number${min > -Infinity ? ` from ${min}` : ''}${max < Infinity ? ` to ${max}` : ''}, got ${JSON.stringify(v)}`);
    return n;
  };
  const bytes = (key: string, v: unknown): number | undefined => {
    if (v === undefined || v === null) return undefined;
    // -1: unlimited swap, as Docker takes it.
    if (v === -1 || v === '-1') return -1;
    const n = parseBytes(v);
    if (n === undefined) throw new ComposeValueError(svc, key, `expected a size such as 512m or a number of bytes, got ${JSON.stringify(v)}`);
    return n;
  };
  const networkMode = mode('network_mode');
  const reservations = isObj(raw.deploy) && isObj(raw.deploy.resources) && isObj(raw.deploy.resources.reservations) ? raw.deploy.resources.reservations : undefined;
  const memReservation = raw.mem_reservation ?? reservations?.memory;
  const out: EngineOptions = {
    securityOpt: strings(svc, 'security_opt', raw.security_opt),
    groupAdd: strings(svc, 'group_add', raw.group_add),
    dnsSearch: strings(svc, 'dns_search', raw.dns_search),
    dnsOptions: strings(svc, 'dns_opt', raw.dns_opt),
    tty: bool('tty') ?? false,
    stdinOpen: bool('stdin_open') ?? false,
    storageOpt: stringMap(svc, 'storage_opt', raw.storage_opt),
    deviceCgroupRules: strings(svc, 'device_cgroup_rules', raw.device_cgroup_rules),
    volumesFrom: volumesFrom(svc, raw.volumes_from),
  };
  const set = <K extends keyof EngineOptions>(k: K, v: EngineOptions[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('networkMode', networkMode);
  set('pid', mode('pid'));
  set('ipc', mode('ipc'));
  set('uts', mode('uts'));
  set('domainname', text('domainname'));
  set('macAddress', text('mac_address'));
  set('cgroupParent', text('cgroup_parent'));
  set('runtime', text('runtime'));
  set('usernsMode', text('userns_mode'));
  set('oomScoreAdj', int('oom_score_adj', -1000, 1000));
  set('oomKillDisable', bool('oom_kill_disable'));
  set('cpuShares', int('cpu_shares', 0));
  set('cpusetCpus', raw.cpuset === undefined || raw.cpuset === null ? undefined : String(raw.cpuset));
  set('cpuQuota', int('cpu_quota'));
  set('cpuPeriod', int('cpu_period', 0));
  set('memoryReservationBytes', bytes(raw.mem_reservation !== undefined ? 'mem_reservation' : 'deploy.resources.reservations.memory', memReservation));
  set('memorySwapBytes', bytes('memswap_limit', raw.memswap_limit));
  set('memorySwappiness', int('mem_swappiness', 0, 100));
  set('blkio', blkio(svc, raw.blkio_config));
  return out;
}

/** `volumes_from` entries as `service:NAME[:ro|rw]` or `container:NAME[:ro|rw]` (a bare name is a service, as in Compose). */
function volumesFrom(svc: string, v: unknown): string[] {
  return strings(svc, 'volumes_from', v).map((e) => {
    const m = /^(?:(service|container):)?([^:]+)(?::(ro|rw))?$/.exec(e);
    if (!m) throw new ComposeValueError(svc, 'volumes_from', `expected SERVICE[:ro|rw] or container:NAME[:ro|rw], got "${e}"`);
    return `${m[1] ?? 'service'}:${m[2]}${m[3] ? `:${m[3]}` : ''}`;
  });
}

function blkio(svc: string, v: unknown): BlkioOptions | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new ComposeValueError(svc, 'blkio_config', 'expected a mapping (weight, weight_device, device_read_bps, ...)');
  /** Each entry's path and number: a size (bytes per second) or a whole number (a weight, operations per second). */
  const entries = (key: string, field: 'weight' | 'rate', size: boolean): { path: string; n: number }[] => {
    const items = v[key];
    if (items === undefined || items === null) return [];
    if (!Array.isArray(items)) throw new ComposeValueError(svc, `blkio_config.${key}`, `expected a list of {path, ${field}}`);
    return items.map((x, i) => {
      const at = `blkio_config.${key}[${i}]`;
      if (!isObj(x) || typeof x.path !== 'string') throw new ComposeValueError(svc, at, `expected {path, ${field}}`);
      const raw = x[field];
      const n = size ? parseBytes(raw) : typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 ? raw : undefined;
      if (n === undefined) throw new ComposeValueError(svc, `${at}.${field}`, `expected ${size ? 'a size such as 10mb or a number of bytes' : 'a whole number'}, got ${JSON.stringify(raw)}`);
      return { path: x.path, n };
    });
  };
  const rates = (key: string, size: boolean): { path: string; rate: number }[] => entries(key, 'rate', size).map((e) => ({ path: e.path, rate: e.n }));
  const weight = v.weight;
  if (weight !== undefined && (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 10 || weight > 1000)) {
    throw new ComposeValueError(svc, 'blkio_config.weight', `expected a whole number from 10 to 1000, got ${JSON.stringify(weight)}`);
  }
  return {
    ...(weight !== undefined ? { weight } : {}),
    weightDevice: entries('weight_device', 'weight', false).map((e) => ({ path: e.path, weight: e.n })),
    deviceReadBps: rates('device_read_bps', true),
    deviceWriteBps: rates('device_write_bps', true),
    deviceReadIOps: rates('device_read_iops', false),
    deviceWriteIOps: rates('device_write_iops', false),
  };
}

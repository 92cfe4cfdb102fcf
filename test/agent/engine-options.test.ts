import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { engineOptions } from '../../src/agent/engine-options.js';
import { ComposeValueError } from '../../src/model/compose-values.js';

describe('engine options', () => {
  it('passes the Compose keys on as the engine takes them', () => {
    const o = engineOptions('app', {
      network_mode: 'service:db',
      pid: 'host',
      ipc: 'shareable',
      uts: 'host',
      security_opt: ['no-new-privileges:true'],
      group_add: ['audio', 1234],
      dns_search: 'example.internal',
      dns_opt: ['ndots:2'],
      tty: true,
      stdin_open: true,
      domainname: 'example.com',
      mac_address: '02:42:ac:11:00:02',
      cgroup_parent: 'baton.slice',
      runtime: 'runc',
      userns_mode: 'host',
      storage_opt: { size: '1G' },
      device_cgroup_rules: ['c 1:3 mr'],
      oom_score_adj: -500,
      oom_kill_disable: false,
      cpu_shares: '512',
      cpuset: '0-1',
      cpu_quota: 50000,
      cpu_period: 100000,
      mem_reservation: '64m',
      memswap_limit: -1,
    });
    assert.deepEqual(o, {
      networkMode: 'service:db',
      pid: 'host',
      ipc: 'shareable',
      uts: 'host',
      securityOpt: ['no-new-privileges:true'],
      groupAdd: ['audio', '1234'],
      dnsSearch: ['example.internal'],
      dnsOptions: ['ndots:2'],
      tty: true,
      stdinOpen: true,
      domainname: 'example.com',
      macAddress: '02:42:ac:11:00:02',
      cgroupParent: 'baton.slice',
      runtime: 'runc',
      usernsMode: 'host',
      storageOpt: { size: '1G' },
      deviceCgroupRules: ['c 1:3 mr'],
      oomScoreAdj: -500,
      oomKillDisable: false,
      cpuShares: 512,
      cpusetCpus: '0-1',
      cpuQuota: 50000,
      cpuPeriod: 100000,
      memoryReservationBytes: 64 * 1024 ** 2,
      memorySwapBytes: -1,
      volumesFrom: [],
    });
  });

  it('a service that asks for nothing gets the engine\'s defaults; deploy.resources.reservations.memory counts as mem_reservation', () => {
    assert.deepEqual(engineOptions('app', {}), { securityOpt: [], groupAdd: [], dnsSearch: [], dnsOptions: [], tty: false, stdinOpen: false, storageOpt: {}, deviceCgroupRules: [], volumesFrom: [] });
    assert.equal(engineOptions('app', { deploy: { resources: { reservations: { memory: '1g' } } } }).memoryReservationBytes, 1024 ** 3);
  });

  it('refuses what the engine would refuse, naming the key', () => {
    const refused = (raw: Record<string, unknown>, key: string, message: RegExp): void =>
      assert.throws(() => engineOptions('app', raw), (e: unknown) => e instanceof ComposeValueError && e.key === key && message.test(e.detail));
    refused({ network_mode: 'sideways' }, 'network_mode', /expected host, none, bridge, service:NAME or container:NAME, got "sideways"/);
    refused({ pid: 'private' }, 'pid', /expected host, service:NAME or container:NAME/);
    refused({ ipc: 'shared' }, 'ipc', /expected host, none, private, shareable/);
    refused({ uts: 'private' }, 'uts', /expected host/);
    refused({ tty: 'yes' }, 'tty', /expected true or false/);
    refused({ oom_score_adj: 2000 }, 'oom_score_adj', /from -1000 to 1000/);
    refused({ cpu_shares: 1.5 }, 'cpu_shares', /whole number/);
    refused({ mem_reservation: 'lots' }, 'mem_reservation', /expected a size/);
    refused({ deploy: { resources: { reservations: { memory: 'x' } } } }, 'deploy.resources.reservations.memory', /expected a size/);
    refused({ storage_opt: 'size=1G' }, 'storage_opt', /expected a mapping/);
  });
});

describe('engine options: volumes_from and blkio_config', () => {
  it('maps them, a bare volumes_from name being a service', () => {
    const o = engineOptions('app', {
      volumes_from: ['data', 'data:ro', 'container:legacy:rw'],
      mem_swappiness: 10,
      blkio_config: { weight: 300, weight_device: [{ path: '/dev/sda', weight: 400 }], device_read_bps: [{ path: '/dev/sda', rate: '12mb' }], device_write_iops: [{ path: '/dev/sda', rate: 30 }] },
    });
    assert.deepEqual(o.volumesFrom, ['service:data', 'service:data:ro', 'container:legacy:rw']);
    assert.equal(o.memorySwappiness, 10);
    assert.deepEqual(o.blkio, {
      weight: 300,
      weightDevice: [{ path: '/dev/sda', weight: 400 }],
      deviceReadBps: [{ path: '/dev/sda', rate: 12 * 1024 ** 2 }],
      deviceWriteBps: [],
      deviceReadIOps: [],
      deviceWriteIOps: [{ path: '/dev/sda', rate: 30 }],
    });
  });

  it('refuses bad entries naming the key', () => {
    assert.throws(() => engineOptions('app', { volumes_from: ['a:b:c:d'] }), (e: unknown) => e instanceof ComposeValueError && e.key === 'volumes_from');
    assert.throws(() => engineOptions('app', { blkio_config: { weight: 5 } }), (e: unknown) => e instanceof ComposeValueError && e.key === 'blkio_config.weight');
    assert.throws(() => engineOptions('app', { blkio_config: { device_read_bps: [{ path: '/dev/sda', rate: 'fast' }] } }), (e: unknown) => e instanceof ComposeValueError && e.key === 'blkio_config.device_read_bps[0].rate');
    assert.throws(() => engineOptions('app', { mem_swappiness: 101 }), (e: unknown) => e instanceof ComposeValueError && e.key === 'mem_swappiness');
  });
});

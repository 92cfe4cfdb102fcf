import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildOptions } from '../../src/model/build-options.js';
import { ComposeValueError } from '../../src/model/compose-values.js';

describe('build options', () => {
  it('maps a build: section onto the engine builder\'s options', () => {
    const o = buildOptions('app', {
      context: '/x',
      network: 'host',
      extra_hosts: { 'a.internal': '10.0.0.1', b: ['10.0.0.2', '::1'] },
      shm_size: '64m',
      no_cache: true,
      tags: ['reg.example/app:1', 'app:latest'],
      cache_from: ['app:cache'],
      ulimits: { nofile: { soft: 10, hard: 20 }, nproc: 5 },
      platforms: ['linux/amd64'],
      isolation: 'default',
    });
    assert.deepEqual(o, {
      tags: ['reg.example/app:1', 'app:latest'],
      network: 'host',
      extraHosts: ['a.internal:10.0.0.1', 'b:10.0.0.2', 'b:::1'],
      shmSizeBytes: 64 * 1024 ** 2,
      noCache: true,
      pull: false,
      cacheFrom: ['app:cache'],
      ulimits: [{ name: 'nofile', soft: 10, hard: 20 }, { name: 'nproc', soft: 5, hard: 5 }],
      platform: 'linux/amd64',
      isolation: 'default',
    });
  });

  it('an empty section asks for nothing; the command\'s flags add to the file', () => {
    assert.deepEqual(buildOptions('app', { context: '/x' }), { tags: [], extraHosts: [], noCache: false, pull: false, cacheFrom: [], ulimits: [] });
    const o = buildOptions('app', { context: '/x', extra_hosts: ['h=1.2.3.4'] }, { noCache: true, pull: true });
    assert.equal(o.noCache, true);
    assert.equal(o.pull, true);
    assert.deepEqual(o.extraHosts, ['h:1.2.3.4'], 'HOST=IP as Compose allows it');
  });

  it('refuses what the classic builder cannot do, and bad values, naming the key', () => {
    const refused = (b: Record<string, unknown>, key: string, message: RegExp): void =>
      assert.throws(() => buildOptions('app', { context: '/x', ...b }), (e: unknown) => e instanceof ComposeValueError && e.service === 'app' && e.key === key && message.test(e.detail));
    refused({ secrets: [{ source: 's' }] }, 'build.secrets', /only BuildKit has build secrets/);
    refused({ ssh: ['default'] }, 'build.ssh', /only BuildKit/);
    refused({ additional_contexts: { base: '/y' } }, 'build.additional_contexts', /only BuildKit/);
    refused({ entitlements: ['network.host'] }, 'build.entitlements', /only BuildKit/);
    refused({ privileged: true }, 'build.privileged', /only BuildKit runs privileged builds/);
    refused({ platforms: ['linux/amd64', 'linux/arm64'] }, 'build.platforms', /one platform at a time, not 2/);
    refused({ shm_size: 'big' }, 'build.shm_size', /expected a size/);
    refused({ network: 3 }, 'build.network', /expected a string/);
    refused({ no_cache: 'yes' }, 'build.no_cache', /expected true or false/);
    refused({ ulimits: { nofile: 'x' } }, 'build.ulimits.nofile', /expected a number or \{soft, hard\}/);
    refused({ tags: [{}] }, 'build.tags', /expected a list of strings/);
    // Empty BuildKit-only keys ask for nothing.
    assert.doesNotThrow(() => buildOptions('app', { context: '/x', secrets: [], ssh: [], additional_contexts: {}, privileged: false }));
  });
});

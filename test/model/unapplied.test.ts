import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { unappliedKeys } from '../../src/model/unapplied.js';
import type { ServiceConfig } from '../../src/spec/types.js';

const svc = (extra: Record<string, unknown>): ServiceConfig => ({ name: 'app', image: 'x', ...extra }) as unknown as ServiceConfig;

describe('keys baton does not apply', () => {
  it('names what the docker driver ignores, and hooks for other drivers', () => {
    assert.deepEqual(unappliedKeys(svc({ gpus: 'all', platform: 'linux/arm64', links: ['db', 'cache:c'], deploy: { resources: { reservations: { devices: [{ capabilities: ['gpu'] }] } } } }), 'docker'), ['gpus', 'links (aliases)', 'deploy.resources.reservations.devices']);
    assert.deepEqual(unappliedKeys(svc({ post_start: [{ command: ['true'] }], gpus: 'all' }), 'process'), ['post_start']);
  });

  it('names nothing for a service that asks only for what baton applies', () => {
    assert.deepEqual(unappliedKeys(svc({ links: ['db'], post_start: [], cpu_shares: 512 }), 'docker'), []);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hooksOf } from '../../src/agent/hooks.js';
import type { Service } from '../../src/model/types.js';

const svc = (spec: Record<string, unknown>): Service => ({ name: 'app', project: 'p', spec }) as unknown as Service;

describe('lifecycle hooks', () => {
  it('reads a service\'s hooks as the loader normalized them', () => {
    assert.deepEqual(hooksOf(svc({ post_start: [{ command: ['sh', '-c', 'x'], user: 'nobody', privileged: true, working_dir: '/w', environment: { A: '1', B: null } }] }), 'post_start'), [
      { command: ['sh', '-c', 'x'], user: 'nobody', privileged: true, workingDir: '/w', env: ['A=1'] },
    ]);
    assert.deepEqual(hooksOf(svc({ pre_stop: [{ command: ['true'] }] }), 'pre_stop'), [{ command: ['true'], privileged: false, env: [] }]);
  });

  it('has none without the key, and skips hooks without a command', () => {
    assert.deepEqual(hooksOf(svc({}), 'post_start'), []);
    assert.deepEqual(hooksOf(svc({ post_start: [{ command: [] }, { user: 'x' }] }), 'post_start'), []);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { upProject } from '../../src/cli/up-options.js';
import type { ComposeProject } from '../../src/spec/types.js';

const project = (): ComposeProject =>
  ({
    name: 'p',
    services: {
      db: { name: 'db', image: 'postgres', depends_on: {} },
      cache: { name: 'cache', image: 'redis', depends_on: {} },
      web: { name: 'web', image: 'web', deploy: { replicas: 2 }, depends_on: { db: { condition: 'service_started', required: true }, cache: { condition: 'service_started', required: true } } },
      built: { name: 'built', build: { context: '/x' }, depends_on: {} },
    },
  }) as unknown as ComposeProject;

describe('up options', () => {
  it('named services come with what they depend on, unless --no-deps', () => {
    assert.deepEqual(Object.keys(upProject(project(), ['web'], {}).services).sort(), ['cache', 'db', 'web']);
    const alone = upProject(project(), ['web'], { deps: false });
    assert.deepEqual(Object.keys(alone.services), ['web']);
    assert.deepEqual(alone.services.web.depends_on, {}, 'it does not wait on services left out');
  });

  it('--scale sets the replicas, --pull the pull policy of image services', () => {
    const p = upProject(project(), [], { scale: ['web=5', 'db=0'], pull: 'always' });
    assert.equal(p.services.web.deploy?.replicas, 5);
    assert.equal(p.services.web.scale, 5);
    assert.equal(p.services.db.scale, 0);
    assert.equal(p.services.db.pull_policy, 'always');
    assert.equal(p.services.built.pull_policy, undefined, 'a built image is not pulled');
  });

  it('refuses what docker compose refuses', () => {
    assert.throws(() => upProject(project(), ['nope'], {}), /no such service: nope/);
    assert.throws(() => upProject(project(), [], { scale: ['web'] }), /--scale: expected SERVICE=NUM/);
    assert.throws(() => upProject(project(), [], { scale: ['nope=1'] }), /--scale: no such service: nope/);
    assert.throws(() => upProject(project(), [], { pull: 'sometimes' }), /--pull: expected always, missing or never/);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeRegistry, registryOf } from '../../src/model/image-ref.js';

describe('the registry of an image reference', () => {
  it('reads the registry as Docker does: a first part with a dot, a port or localhost', () => {
    assert.equal(registryOf('nginx'), 'docker.io');
    assert.equal(registryOf('nginx:1.25'), 'docker.io');
    assert.equal(registryOf('bitnami/redis:7'), 'docker.io');
    assert.equal(registryOf('ghcr.io/owner/app:1'), 'ghcr.io');
    assert.equal(registryOf('127.0.0.1:5000/app'), '127.0.0.1:5000');
    assert.equal(registryOf('localhost/app'), 'localhost');
    assert.equal(registryOf('Registry.Example.COM/a/b@sha256:00'), 'registry.example.com');
  });

  it('gives one name to each way a config file keys a registry', () => {
    assert.equal(normalizeRegistry('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(normalizeRegistry('registry-1.docker.io'), 'docker.io');
    assert.equal(normalizeRegistry('http://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
    assert.equal(normalizeRegistry(' ghcr.io '), 'ghcr.io');
  });
});

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialsFor, credentialsForImages, removeCredentials, saveCredentials } from '../../src/cli/docker-config.js';

describe('registry credentials in Docker\'s config', () => {
  const root = mkdtempSync(join(tmpdir(), 'baton-dockercfg-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const setup = (cfg: unknown): NodeJS.ProcessEnv => {
    const dir = join(root, String(n++));
    mkdirSync(dir, { recursive: true });
    if (cfg !== undefined) writeFileSync(join(dir, 'config.json'), typeof cfg === 'string' ? cfg : JSON.stringify(cfg));
    return { DOCKER_CONFIG: dir, PATH: `${dir}:${process.env.PATH}` };
  };
  const none = (msg: string): void => assert.fail(`unexpected warning: ${msg}`);

  it('reads auths entries keyed in any of Docker\'s forms', () => {
    const env = setup({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw:with:colons').toString('base64') }, 'http://10.0.0.5:5000': { username: 'u', password: 'p' }, 'ghcr.io': { identitytoken: 'tok' } } });
    assert.deepEqual(credentialsFor('docker.io', none, env), { serveraddress: 'https://index.docker.io/v1/', username: 'hub', password: 'pw:with:colons' });
    assert.deepEqual(credentialsFor('10.0.0.5:5000', none, env), { serveraddress: 'http://10.0.0.5:5000', username: 'u', password: 'p' });
    assert.deepEqual(credentialsFor('ghcr.io', none, env), { serveraddress: 'ghcr.io', identitytoken: 'tok' });
    assert.equal(credentialsFor('quay.io', none, env), undefined);
    assert.deepEqual(Object.keys(credentialsForImages(['nginx', 'ghcr.io/a/b:1', 'quay.io/x/y', 'redis'], none, env)).sort(), ['docker.io', 'ghcr.io']);
  });

  it('has nothing without a config file, and names the file when it is broken', () => {
    assert.equal(credentialsFor('docker.io', none, setup(undefined)), undefined);
    assert.throws(() => credentialsFor('docker.io', none, setup('{"auths": ')), /config\.json: not valid JSON/);
    assert.throws(() => credentialsFor('docker.io', none, setup({ auths: { 'docker.io': { auth: Buffer.from('nocolon').toString('base64') } } })), /auths\."docker\.io"\.auth: expected base64 of "user:password"/);
  });

  it('saves as docker login does (0600, other keys kept), replaces and removes', () => {
    const env = setup({ currentContext: 'default', auths: { 'http://127.0.0.1:5000/': { auth: 'b2xkOm9sZA==' } } });
    saveCredentials('127.0.0.1:5000', 'alice', 's3cret', env);
    const file = join(env.DOCKER_CONFIG!, 'config.json');
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { currentContext: string; auths: Record<string, { auth: string }> };
    assert.equal(saved.currentContext, 'default');
    assert.deepEqual(Object.keys(saved.auths), ['127.0.0.1:5000'], 'the old entry under another form of the same name is replaced');
    assert.equal(credentialsFor('127.0.0.1:5000', none, env)?.password, 's3cret');
    assert.equal(removeCredentials('127.0.0.1:5000', env), true);
    assert.equal(removeCredentials('127.0.0.1:5000', env), false);
    assert.equal(credentialsFor('127.0.0.1:5000', none, env), undefined);
  });

  it('asks a credential helper first (credHelpers per registry, then credsStore) and goes on without one that fails', () => {
    const env = setup({ credHelpers: { 'ghcr.io': 'fake' }, credsStore: 'missing-helper', auths: { 'docker.io': { auth: Buffer.from('file:pw').toString('base64') } } });
    const helper = join(env.DOCKER_CONFIG!, 'docker-credential-fake');
    writeFileSync(helper, '#!/bin/sh\nread server\n[ "$1" = get ] && [ "$server" = ghcr.io ] && echo \'{"ServerURL":"ghcr.io","Username":"<token>","Secret":"abc"}\' && exit 0\necho "credentials not found in native keychain"; exit 1\n');
    chmodSync(helper, 0o755);
    assert.deepEqual(credentialsFor('ghcr.io', none, env), { serveraddress: 'ghcr.io', identitytoken: 'abc' }, 'Username <token>: an identity token');
    const warnings: string[] = [];
    assert.deepEqual(credentialsFor('docker.io', (m) => warnings.push(m), env), { serveraddress: 'docker.io', username: 'file', password: 'pw' }, 'the file\'s entry still serves');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /docker-credential-missing-helper: not found on PATH; going on without credentials for docker\.io/);
  });
});

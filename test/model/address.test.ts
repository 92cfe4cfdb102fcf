import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { joinHostPort, parseHostPort } from '../../src/model/address.js';

describe('HOST:PORT', () => {
  it('reads names, IPv4, bracketed IPv6 and an empty host', () => {
    assert.deepEqual(parseHostPort('10.0.0.1:2377'), { host: '10.0.0.1', port: 2377 });
    assert.deepEqual(parseHostPort('mgr.example:80'), { host: 'mgr.example', port: 80 });
    assert.deepEqual(parseHostPort('[fd00::1]:2377'), { host: 'fd00::1', port: 2377 });
    assert.deepEqual(parseHostPort(':8080'), { host: '', port: 8080 });
  });

  it('takes the default port only when none is written', () => {
    assert.deepEqual(parseHostPort('mgr', 2377), { host: 'mgr', port: 2377 });
    assert.deepEqual(parseHostPort('[::1]', 2377), { host: '::1', port: 2377 });
    assert.equal(parseHostPort('mgr'), undefined, 'no port and no default');
  });

  it('refuses what is not HOST:PORT, and ports out of range', () => {
    for (const bad of ['fd00::1:2377', 'a:b', 'host:0', 'host:65536', 'host:123456', 'a b:1', '[zz]:1', 'h:1:2']) assert.equal(parseHostPort(bad, 1), undefined, bad);
  });

  it('writes an IPv6 host back in brackets', () => {
    assert.equal(joinHostPort('fd00::1', 2377), '[fd00::1]:2377');
    assert.equal(joinHostPort('10.0.0.1', 2377), '10.0.0.1:2377');
  });
});

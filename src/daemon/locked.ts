// A daemon whose key is locked (autolock) starts nothing until it is given
// the unlock key: its socket answers only `version` and `unlock` meanwhile.
import http from 'node:http';
import { chmodSync, unlinkSync } from 'node:fs';
import { SecretBox, WrongUnlockKeyError, type LockedKey } from '../secrets/index.js';
import type { VersionInfo } from '../api/index.js';

const MAX_BODY = 4096;

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function waitForUnlock(socketPath: string, locked: LockedKey, version: VersionInfo, log: (m: string) => void): Promise<SecretBox> {
  return new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/v1/version') return send(res, 200, { ...version, locked: true });
      if (req.method !== 'POST' || req.url !== '/v1/unlock') {
        return send(res, 423, { error: { code: 'locked', message: 'the daemon is locked (autolock): run "baton unlock" and give it the unlock key', problems: [] } });
      }
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => {
        body += d;
        if (body.length > MAX_BODY) req.destroy();
      });
      req.on('end', () => {
        let key = '';
        try {
          key = String((JSON.parse(body) as { key?: unknown }).key ?? '');
        } catch {
          return send(res, 400, { error: { code: 'invalid', message: 'request body is not valid JSON', problems: [] } });
        }
        let box: SecretBox;
        try {
          box = SecretBox.unlock(locked, key);
        } catch (err) {
          if (err instanceof WrongUnlockKeyError) return send(res, 401, { error: { code: 'wrong_key', message: 'wrong unlock key', problems: [] } });
          throw err;
        }
        send(res, 200, { unlocked: true });
        server.close();
        server.closeAllConnections();
        log('unlocked: starting');
        resolve(box);
      });
    });
    try {
      unlinkSync(socketPath);
    } catch {
      /* none there */
    }
    server.once('error', reject);
    server.listen(socketPath, () => {
      chmodSync(socketPath, 0o600);
      log(`locked (autolock): waiting for "baton unlock" on ${socketPath}`);
    });
  });
}

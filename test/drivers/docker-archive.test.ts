// The tar handling behind `cp` into a container under a new name.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { extract, pack } from 'tar-stream';
import { ArchiveError, isDir, isSymlink, parsePathStat, renameTop, splitDest, tarTop } from '../../src/drivers/docker/archive.js';

function tarOf(entries: { name: string; type?: 'file' | 'directory' | 'link' | 'symlink'; body?: string; linkname?: string }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve) => p.on('end', () => resolve(Buffer.concat(chunks))));
  for (const e of entries) p.entry({ name: e.name, type: e.type ?? 'file', ...(e.linkname ? { linkname: e.linkname } : {}) }, e.body ?? '');
  p.finalize();
  return done;
}

async function listing(tar: Buffer): Promise<string[]> {
  const out: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const ex = extract();
    ex.on('entry', (h, stream, next) => {
      let body = '';
      stream.on('data', (c: Buffer) => (body += c.toString()));
      stream.on('end', () => {
        out.push(`${h.type}:${h.name}${h.linkname ? `->${h.linkname}` : ''}${body ? `=${body}` : ''}`);
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    ex.end(tar);
  });
  return out;
}

describe('cp archives', () => {
  it('finds the one top-level name and whether it is a folder', async () => {
    assert.deepEqual(await tarTop(await tarOf([{ name: 'local.txt', body: 'x' }])), { name: 'local.txt', dir: false });
    assert.deepEqual(await tarTop(await tarOf([{ name: 'up', type: 'directory' }, { name: 'up/a.txt', body: 'a' }])), { name: 'up', dir: true });
    await assert.rejects(tarTop(await tarOf([{ name: 'a' }, { name: 'b' }])), ArchiveError);
    await assert.rejects(tarTop(await tarOf([])), /nothing to copy/);
    await assert.rejects(tarTop(Buffer.from('not a tar at all, but long enough to look at '.repeat(20))), ArchiveError);
  });

  it('renames the top entry, what is under it, and hard links to it; contents unchanged', async () => {
    const tar = await tarOf([
      { name: 'up', type: 'directory' },
      { name: 'up/a.txt', body: 'A' },
      { name: 'up/hard', type: 'link', linkname: 'up/a.txt' },
      { name: 'up/soft', type: 'symlink', linkname: 'a.txt' },
      { name: 'upper.txt', body: 'not under up' },
    ]);
    assert.deepEqual(await listing(await renameTop(tar, 'up', 'down')), ['directory:down', 'file:down/a.txt=A', 'link:down/hard->down/a.txt', 'symlink:down/soft->a.txt', 'file:upper.txt=not under up']);
  });

  it('reads the engine\'s stat header', () => {
    const header = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64');
    const dir = parsePathStat(header({ name: 'tmp', size: 4096, mode: 2147484671, mtime: '', linkTarget: '' }))!;
    assert.ok(isDir(dir) && !isSymlink(dir));
    const link = parsePathStat(header({ name: 'l', size: 3, mode: 134218239, linkTarget: '/tmp' }))!;
    assert.ok(isSymlink(link) && !isDir(link));
    assert.equal(link.linkTarget, '/tmp');
    assert.ok(!isDir(parsePathStat(header({ name: 'f', size: 1, mode: 420 }))!));
    assert.equal(parsePathStat(undefined), undefined);
    assert.equal(parsePathStat('%%%'), undefined);
  });

  it('splits a destination into its folder and new name', () => {
    assert.deepEqual(splitDest('/tmp/renamed.txt'), { parent: '/tmp', name: 'renamed.txt' });
    assert.deepEqual(splitDest('/tmp//x/../y'), { parent: '/tmp', name: 'y' });
    assert.deepEqual(splitDest('/top'), { parent: '/', name: 'top' });
  });
});

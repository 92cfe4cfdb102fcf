import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dockerignore } from '../../src/drivers/docker/build.js';

describe('.dockerignore', () => {
  it('matches as the builder does: root-relative globs, folders with their content, ** across folders, ! to take back', () => {
    const ignored = dockerignore('# comment\nnode_modules\n*.log\n**/*.tmp\n/secret/\ndocs/*.md\n!docs/keep.md\n');
    const yes = ['node_modules', 'node_modules/a/b.js', 'x.log', 'a.tmp', 'deep/er/b.tmp', 'secret', 'secret/key', 'docs/a.md'];
    const no = ['src/x.log', 'app.js', 'docs/keep.md', 'docs/sub/a.md', 'node_modules2'];
    for (const p of yes) assert.equal(ignored(p), true, p);
    for (const p of no) assert.equal(ignored(p), false, p);
  });
});

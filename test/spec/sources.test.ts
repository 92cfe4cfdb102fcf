import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileSources, SpecError, MAX_SOURCE_BYTES } from '../../src/spec/index.js';
import { load, project, PROC } from './helpers.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function sourceProblems(fn: () => unknown): SpecError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SpecError) return err;
    throw err;
  }
  assert.fail('expected the sources to be refused');
}

describe('secret and config sources', () => {
  it('reads file and environment values, leaves content in the spec and the values out of it', async () => {
    const dir = project({
      'pw.txt': 'file-value',
      'compose.yaml': `${PROC}services:
  app:
    command: [x]
    secrets: [pw, token]
    configs: [conf, inline]
secrets:
  pw: {file: ./pw.txt}
  token: {environment: TOKEN}
  unused: {file: ./missing.txt}
configs:
  conf: {environment: CONF}
  inline: {content: "a=1"}
`,
    });
    const p = await load(dir, { env: { TOKEN: 'env-value', CONF: 'c=2' } });
    assert.deepEqual(fileSources(p), { secrets: { pw: b64('file-value'), token: b64('env-value') }, configs: { conf: b64('c=2') } });
    assert.ok(!JSON.stringify(p).includes('file-value') && !JSON.stringify(p).includes('env-value'), 'values stay out of the project');
  });

  it('a missing file or variable is reported at its key, with its line, when the values are asked for', async () => {
    const dir = project({
      'compose.yaml': `${PROC}services:
  app:
    command: [x]
    secrets: [pw, token]
secrets:
  pw:
    file: ./nope.txt
  token:
    environment: NOT_SET
`,
    });
    const p = await load(dir); // ps, config and the rest do not need the values
    const err = sourceProblems(() => fileSources(p));
    const byPath = new Map(err.problems.map((x) => [x.path, x]));
    assert.match(byPath.get('secrets.pw.file')?.message ?? '', /nope\.txt: no such file/);
    assert.equal(byPath.get('secrets.pw.file')?.line, 8);
    assert.match(byPath.get('secrets.token.environment')?.message ?? '', /"NOT_SET" is not set/);
    assert.equal(byPath.get('secrets.token.environment')?.line, 10);
  });

  it('refuses a value over the size limit and a secret with no source', async () => {
    const dir = project({
      'big.txt': 'x'.repeat(MAX_SOURCE_BYTES + 1),
      'compose.yaml': `${PROC}services:
  app:
    command: [x]
    secrets: [big, empty]
secrets:
  big: {file: ./big.txt}
  empty: {}
`,
    });
    const p = await load(dir);
    const err = sourceProblems(() => fileSources(p));
    const byPath = new Map(err.problems.map((x) => [x.path, x.message]));
    assert.match(byPath.get('secrets.big') ?? '', /at most 512000 are allowed/);
    assert.match(byPath.get('secrets.empty') ?? '', /needs one of file, environment or external: true/);
  });
});

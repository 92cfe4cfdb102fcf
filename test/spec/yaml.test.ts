import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { at, load, problems, project, PROC } from './helpers.js';

describe('YAML reading', () => {
  it('anchors, aliases and << merge keys; explicit keys win over merged ones', async () => {
    const dir = project({ 'compose.yaml': `${PROC}x-base: &base\n  command: [base]\n  environment: &env {A: "1", B: "2"}\nservices:\n  a:\n    <<: *base\n    command: [own]\n  b:\n    <<: *base\n    labels: *env\n` });
    const p = await load(dir);
    assert.deepEqual(p.services.a.command, ['own']);
    assert.deepEqual(p.services.a.environment, { A: '1', B: '2' });
    assert.deepEqual(p.services.b.command, ['base']);
    assert.deepEqual(p.services.b.labels, { A: '1', B: '2' });
  });

  it('duplicate keys are errors at the second key', async () => {
    const ps = await problems(project({ 'compose.yaml': `${PROC}services:\n  a:\n    command: x\n    command: y\n` }));
    const p = at(ps, 'services.a.command');
    assert.match(p.message, /duplicate key "command"/);
    assert.equal(p.line, 5);
    assert.equal(p.col, 5);
  });

  it('syntax errors carry line and column', async () => {
    const ps = await problems(project({ 'compose.yaml': 'services:\n  a: {command: x\n  b: 1\n' }));
    assert.ok(ps.length >= 1);
    assert.ok(ps[0].line && ps[0].line >= 2, JSON.stringify(ps));
  });

  it('alias expansion is bounded (no "billion laughs")', async () => {
    let text = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 9; i++) text += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
    const t0 = Date.now();
    const ps = await problems(project({ 'compose.yaml': text }));
    assert.ok(Date.now() - t0 < 5000);
    assert.ok(ps.some((p) => /alias expansions/.test(p.message)), JSON.stringify(ps.slice(0, 2)));
  });

  it('a file that is not a mapping is refused', async () => {
    const ps = await problems(project({ 'compose.yaml': '- a\n- b\n' }));
    assert.match(ps[0].message, /mapping at the top level/);
  });

  it('an empty file is an empty project', async () => {
    const p = await load(project({ 'compose.yaml': '' }));
    assert.deepEqual(p.services, {});
  });
});

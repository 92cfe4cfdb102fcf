import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HealthProbe } from '../../src/agent/health.js';
import type { Health, Healthcheck } from '../../src/model/types.js';

const check = (over: Partial<Healthcheck>): Healthcheck => ({
  test: { kind: 'exec', argv: ['true'] }, intervalMs: 1000, timeoutMs: 1000, retries: 3, startPeriodMs: 0, startIntervalMs: 5000, ...over,
});

function watch(c: Healthcheck, answer: (n: number) => number): Promise<{ health: Health; atMs: number; probes: number }> {
  const t0 = Date.now();
  let probes = 0;
  // The probe's timers do not hold the process open (unref); this one does while we wait.
  const keep = setInterval(() => {}, 1000);
  return new Promise((resolve) => {
    const p = new HealthProbe(c, async () => ({ exitCode: answer(probes++), output: '' }), (health) => {
      p.stop();
      clearInterval(keep);
      resolve({ health, atMs: Date.now() - t0, probes });
    });
    p.start();
  });
}

describe('health probe', () => {
  it('looks early, so a task ready before the first interval is healthy sooner', async () => {
    const r = await watch(check({ intervalMs: 2000, retries: 1 }), (n) => (n < 2 ? 1 : 0));
    assert.equal(r.health, 'healthy');
    assert.ok(r.atMs < 1000, `healthy after ${r.atMs}ms, not a whole interval`);
  });

  it('early failures do not count: unhealthy no sooner than Docker would say', async () => {
    const r = await watch(check({ intervalMs: 300, retries: 2 }), () => 1);
    assert.equal(r.health, 'unhealthy');
    assert.ok(r.atMs >= 550, `unhealthy after ${r.atMs}ms: the first counted probe is one interval after the start`);
    assert.ok(r.probes <= 6, `${r.probes} probes`);
  });
});

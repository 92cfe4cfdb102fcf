import type { Healthcheck, Health } from '../model/types.js';

export interface ProbeRunner {
  /** `paused`: the task is paused, nothing ran; the probe looks again later without judging. */
  (timeoutMs: number): Promise<{ exitCode: number | null; output: string; paused?: boolean }>;
}

/**
 * Runs one task's healthcheck the way Docker does: every start_interval during
 * start_period (failures there do not count), then every interval; healthy on
 * the first success, unhealthy after `retries` failures in a row.
 * Docker's first probe comes one interval after the start; baton also looks
 * earlier (after 10 ms, doubling), so a task that is ready sooner is healthy
 * sooner, and `depends_on: service_healthy` and `up --wait` do not wait a whole
 * interval. Failures of those early looks do not count, so nothing is judged
 * unhealthy sooner than Docker would.
 */
export class HealthProbe {
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private status: Health = 'starting';
  private closed = false;
  private readonly startedAt = Date.now();
  /** The next early look's delay (before the first interval has passed). */
  private early = 10;

  constructor(
    private readonly check: Healthcheck,
    private readonly run: ProbeRunner,
    private readonly onChange: (h: Health, output: string) => void,
  ) {}

  start(): void {
    this.schedule(this.check.startPeriodMs > 0 ? Math.min(this.check.startIntervalMs, this.check.intervalMs, this.early) : Math.min(this.early, this.check.intervalMs));
  }

  stop(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.probe(), ms);
    this.timer.unref();
  }

  private async probe(): Promise<void> {
    let result: { exitCode: number | null; output: string; paused?: boolean };
    try {
      result = await this.run(this.check.timeoutMs);
    } catch (err) {
      result = { exitCode: null, output: (err as Error).message };
    }
    if (this.closed) return;
    if (result.paused) return this.schedule(this.check.intervalMs);
    const elapsed = Date.now() - this.startedAt;
    const inStart = elapsed < this.check.startPeriodMs;
    const early = elapsed < this.check.intervalMs;
    if (result.exitCode === 0) {
      this.failures = 0;
      this.set('healthy', result.output);
    } else if (!inStart && !early) {
      this.failures++;
      if (this.failures >= this.check.retries) this.set('unhealthy', result.exitCode === null ? `timed out after ${this.check.timeoutMs}ms` : result.output);
    }
    const now = Date.now() - this.startedAt;
    if (this.status === 'starting' && now < this.check.intervalMs) {
      // Early looks: doubling, and never past the moment Docker's first (counted) probe is due.
      this.early *= 2;
      const next = Math.min(this.early, this.check.intervalMs - now);
      this.schedule(now < this.check.startPeriodMs ? Math.min(next, this.check.startIntervalMs) : next);
      return;
    }
    const starting = this.status === 'starting' && now < this.check.startPeriodMs;
    this.schedule(starting ? this.check.startIntervalMs : this.status === 'starting' ? Math.min(this.check.intervalMs, 1000) : this.check.intervalMs);
  }

  private set(h: Health, output: string): void {
    if (h === this.status) return;
    this.status = h;
    this.onChange(h, output);
  }
}

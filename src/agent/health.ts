import type { Healthcheck, Health } from '../model/types.js';

export interface ProbeRunner {
  (timeoutMs: number): Promise<{ exitCode: number | null; output: string }>;
}

/**
 * Runs one task's healthcheck the way Docker does: every start_interval during
 * start_period (failures there do not count), then every interval; healthy on
 * the first success, unhealthy after `retries` failures in a row.
 */
export class HealthProbe {
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private status: Health = 'starting';
  private closed = false;
  private readonly startedAt = Date.now();

  constructor(
    private readonly check: Healthcheck,
    private readonly run: ProbeRunner,
    private readonly onChange: (h: Health, output: string) => void,
  ) {}

  start(): void {
    this.schedule(this.check.startPeriodMs > 0 ? Math.min(this.check.startIntervalMs, this.check.intervalMs) : this.firstDelay());
  }

  stop(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Docker probes once right after start is not its way; it waits one interval. A short first look makes `up --wait` quick. */
  private firstDelay(): number {
    return Math.min(this.check.intervalMs, 1000);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.probe(), ms);
    this.timer.unref();
  }

  private async probe(): Promise<void> {
    let result: { exitCode: number | null; output: string };
    try {
      result = await this.run(this.check.timeoutMs);
    } catch (err) {
      result = { exitCode: null, output: (err as Error).message };
    }
    if (this.closed) return;
    const inStart = Date.now() - this.startedAt < this.check.startPeriodMs;
    if (result.exitCode === 0) {
      this.failures = 0;
      this.set('healthy', result.output);
    } else if (!inStart) {
      this.failures++;
      if (this.failures >= this.check.retries) this.set('unhealthy', result.exitCode === null ? `timed out after ${this.check.timeoutMs}ms` : result.output);
    }
    const starting = this.status === 'starting' && Date.now() - this.startedAt < this.check.startPeriodMs;
    this.schedule(starting ? this.check.startIntervalMs : this.status === 'starting' ? Math.min(this.check.intervalMs, 1000) : this.check.intervalMs);
  }

  private set(h: Health, output: string): void {
    if (h === this.status) return;
    this.status = h;
    this.onChange(h, output);
  }
}

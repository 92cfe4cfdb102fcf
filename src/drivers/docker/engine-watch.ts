import type { DockerDriver } from './driver.js';
import type { EngineProbe } from './probe.js';

export interface EngineWatchOptions {
  /** How often to look while the engine is absent. */
  intervalMs: number;
  /** Called once, when the engine first answers; the watch stops then. */
  onUp: (driver: DockerDriver) => Promise<void>;
  log?: (msg: string) => void;
}

/**
 * Looks for a container engine that did not answer when the daemon started
 * (Docker started after baton, a socket that appears later): every
 * `intervalMs`, and whenever `probe()` is called (a deploy about to decide
 * where image services run). Concurrent probes share one look.
 */
export class EngineWatch {
  private timer: NodeJS.Timeout | undefined;
  private looking: Promise<boolean> | undefined;
  private up = false;
  private stopped = false;

  constructor(private readonly engine: Pick<EngineProbe, 'look'>, private readonly opts: EngineWatchOptions) {}

  start(): void {
    if (this.timer || this.up || this.stopped) return;
    this.timer = setInterval(() => void this.probe(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Whether the engine answers now; the first time it does, onUp has run before this resolves. */
  probe(): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    this.looking ??= this.look().finally(() => (this.looking = undefined));
    return this.looking;
  }

  private async look(): Promise<boolean> {
    const driver = await this.engine.look();
    if (!driver || this.stopped) return false;
    try {
      await this.opts.onUp(driver);
    } catch (err) {
      // Not up yet for baton: the next look tries again.
      this.opts.log?.(`docker: the engine answers, but taking it in failed: ${(err as Error).message}`);
      return false;
    }
    this.up = true;
    this.stop();
    return true;
  }
}

import type { Driver, DriverEvents, LogLine, RunSpec, RunningTask } from './driver.js';

/**
 * Runs nothing and reports every task running until it is stopped: lets one
 * machine stand in for thousands of nodes in control-plane benchmarks.
 */
export class HollowDriver implements Driver {
  readonly name = 'hollow';
  private readonly running = new Set<string>();
  private readonly handlers: DriverEvents[] = [];

  async available(): Promise<boolean> {
    return true;
  }
  on(events: DriverEvents): void {
    this.handlers.push(events);
  }
  async start(spec: RunSpec): Promise<RunningTask> {
    this.running.add(spec.task.id);
    return { taskId: spec.task.id };
  }
  async stop(taskId: string): Promise<void> {
    if (!this.running.delete(taskId)) return;
    queueMicrotask(() => {
      for (const h of this.handlers) h.exited(taskId, { exitCode: 0, signal: 'SIGTERM' });
    });
  }
  async recover(): Promise<RunningTask[]> {
    return [];
  }
  async exec(): Promise<{ exitCode: number | null; output: string }> {
    return { exitCode: 0, output: '' };
  }
  async logs(_taskId: string, opts: { follow?: boolean; signal?: AbortSignal }, _onLine: (l: LogLine) => void): Promise<void> {
    if (!opts.follow || opts.signal?.aborted) return;
    await new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve(), { once: true }));
  }
  async remove(): Promise<void> {}
  async close(): Promise<void> {
    this.handlers.length = 0;
  }
}

export function createHollowDriver(): Driver {
  return new HollowDriver();
}

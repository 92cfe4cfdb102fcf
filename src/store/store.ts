import type { BatonEvent, EventInput, Kind, Objects } from '../model/types.js';

export interface Versioned<T> {
  key: string;
  value: T;
  /** Per-object version: 1 on create, +1 on each write. */
  version: number;
  /** Store-wide revision of the last write to this object. */
  modRevision: number;
}

/**
 * One write in a commit. `expect` is the compare-and-swap guard:
 * a version number the object must currently have, 0 for "must not exist",
 * undefined for an unconditional write.
 */
export type Op =
  | { [K in Kind]: { type: 'put'; kind: K; key: string; value: Objects[K]; expect?: number } }[Kind]
  | { type: 'delete'; kind: Kind; key: string; expect?: number };

export interface WatchEvent {
  revision: number;
  kind: Kind;
  key: string;
  type: 'put' | 'delete';
  /** The new value for puts; the last value for deletes. */
  value: unknown;
  version: number;
}

export interface EventQuery {
  /** Return events with seq greater than this. */
  since?: number;
  /** At most this many, the newest ones when `since` is not given. */
  limit?: number;
  project?: string;
}

export interface Store {
  get<K extends Kind>(kind: K, key: string): Promise<Versioned<Objects[K]> | undefined>;
  list<K extends Kind>(kind: K, prefix?: string): Promise<Versioned<Objects[K]>[]>;
  /** Applies every op or none. Throws ConflictError when an `expect` does not hold. Returns the new store revision. */
  commit(ops: Op[]): Promise<number>;
  /** Current store revision (0 when empty). */
  revision(): Promise<number>;
  /**
   * Calls `listener` with every change after `fromRevision`, first the stored
   * history (throws CompactedError if it is gone), then live changes, in order.
   */
  watch(fromRevision: number, listener: (events: WatchEvent[]) => void): () => void;
  appendEvents(events: EventInput[]): Promise<BatonEvent[]>;
  events(query: EventQuery): Promise<BatonEvent[]>;
  /** Called with each appended event. */
  onEvent(listener: (e: BatonEvent) => void): () => void;
  close(): Promise<void>;
}

export class ConflictError extends Error {
  constructor(readonly kind: Kind, readonly key: string, readonly expected: number | undefined, readonly actual: number) {
    super(`conflict on ${kind} ${key}: expected version ${expected}, found ${actual}`);
    this.name = 'ConflictError';
  }
}

export class CompactedError extends Error {
  constructor(readonly requested: number, readonly oldest: number) {
    super(`revision ${requested} is compacted; oldest kept is ${oldest}`);
    this.name = 'CompactedError';
  }
}

import Database from 'better-sqlite3';
import type { BatonEvent, EventInput, Kind, Objects } from '../model/types.js';
import { CompactedError, ConflictError, type EventQuery, type Op, type Store, type Versioned, type WatchEvent } from './store.js';

const EVENTS_KEPT = 10_000;

interface Row {
  key: string;
  version: number;
  mod_revision: number;
  value: string;
}

/**
 * The embedded store: SQLite in WAL mode. Each commit is one transaction and
 * one store revision; a changes log kept for the last `historyLimit`
 * revisions lets a watcher resume from where it was.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly listeners = new Set<(events: WatchEvent[]) => void>();
  private readonly eventListeners = new Set<(e: BatonEvent) => void>();
  private readonly historyLimit: number;
  private rev: number;
  private readonly st: ReturnType<SqliteStore['prepare']>;

  constructor(path: string, opts: { historyLimit?: number } = {}) {
    this.historyLimit = opts.historyLimit ?? 10_000;
    this.db = new Database(path);
    // WAL with synchronous=NORMAL survives a killed process (our case); only a power cut may lose the last commits.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS objects (kind TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, mod_revision INTEGER NOT NULL, value TEXT NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS changes (revision INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, type TEXT NOT NULL, version INTEGER NOT NULL, value TEXT, PRIMARY KEY (revision, seq)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, type TEXT NOT NULL, project TEXT, service TEXT, task TEXT, node TEXT, message TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS events_project ON events (project, seq);
      INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('compacted', 0);
    `);
    this.st = this.prepare();
    this.rev = (this.st.getMeta.get('revision') as { value: number }).value;
  }

  private prepare() {
    const db = this.db;
    return {
      get: db.prepare('SELECT key, version, mod_revision, value FROM objects WHERE kind = ? AND key = ?'),
      listAll: db.prepare('SELECT key, version, mod_revision, value FROM objects WHERE kind = ? ORDER BY key'),
      listPrefix: db.prepare('SELECT key, version, mod_revision, value FROM objects WHERE kind = ? AND key >= ? AND key < ? ORDER BY key'),
      version: db.prepare('SELECT version FROM objects WHERE kind = ? AND key = ?'),
      upsert: db.prepare('INSERT INTO objects (kind, key, version, mod_revision, value) VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version, mod_revision = excluded.mod_revision, value = excluded.value'),
      delete: db.prepare('DELETE FROM objects WHERE kind = ? AND key = ?'),
      change: db.prepare('INSERT INTO changes (revision, seq, kind, key, type, version, value) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      changesSince: db.prepare('SELECT revision, kind, key, type, version, value FROM changes WHERE revision > ? ORDER BY revision, seq'),
      compact: db.prepare('DELETE FROM changes WHERE revision <= ?'),
      getMeta: db.prepare('SELECT value FROM meta WHERE name = ?'),
      getCompacted: db.prepare("SELECT value FROM meta WHERE name = 'compacted'"),
      setMeta: db.prepare('UPDATE meta SET value = ? WHERE name = ?'),
      insertEvent: db.prepare('INSERT INTO events (time, type, project, service, task, node, message) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      trimEvents: db.prepare('DELETE FROM events WHERE seq <= ?'),
      eventsSince: db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?'),
      eventsSinceProject: db.prepare('SELECT * FROM events WHERE seq > ? AND project = ? ORDER BY seq LIMIT ?'),
      eventsLast: db.prepare('SELECT * FROM (SELECT * FROM events ORDER BY seq DESC LIMIT ?) ORDER BY seq'),
      eventsLastProject: db.prepare('SELECT * FROM (SELECT * FROM events WHERE project = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq'),
    };
  }

  async get<K extends Kind>(kind: K, key: string): Promise<Versioned<Objects[K]> | undefined> {
    const row = this.st.get.get(kind, key) as Row | undefined;
    return row ? toVersioned<Objects[K]>(row) : undefined;
  }

  async list<K extends Kind>(kind: K, prefix?: string): Promise<Versioned<Objects[K]>[]> {
    const rows = (prefix ? this.st.listPrefix.all(kind, prefix, prefix + '\uffff') : this.st.listAll.all(kind)) as Row[];
    return rows.map((r) => toVersioned<Objects[K]>(r));
  }

  async revision(): Promise<number> {
    return this.rev;
  }

  async commit(ops: Op[]): Promise<number> {
    if (ops.length === 0) return this.rev;
    const events: WatchEvent[] = [];
    const run = this.db.transaction(() => {
      const revision = this.rev + 1;
      ops.forEach((op, seq) => {
        const cur = this.st.version.get(op.kind, op.key) as { version: number } | undefined;
        const actual = cur?.version ?? 0;
        if (op.expect !== undefined && op.expect !== actual) throw new ConflictError(op.kind, op.key, op.expect, actual);
        if (op.type === 'put') {
          const text = JSON.stringify(op.value);
          this.st.upsert.run(op.kind, op.key, actual + 1, revision, text);
          this.st.change.run(revision, seq, op.kind, op.key, 'put', actual + 1, text);
          events.push({ revision, kind: op.kind, key: op.key, type: 'put', value: op.value, version: actual + 1 });
        } else {
          if (!cur) return; // deleting what is not there is a no-op
          const old = this.st.get.get(op.kind, op.key) as Row;
          this.st.delete.run(op.kind, op.key);
          this.st.change.run(revision, seq, op.kind, op.key, 'delete', actual, old.value);
          events.push({ revision, kind: op.kind, key: op.key, type: 'delete', value: JSON.parse(old.value) as unknown, version: actual });
        }
      });
      this.st.setMeta.run(revision, 'revision');
      if (revision % 1000 === 0 && revision > this.historyLimit) {
        const upTo = revision - this.historyLimit;
        this.st.compact.run(upTo);
        this.st.setMeta.run(upTo, 'compacted');
      }
      return revision;
    });
    const revision = run();
    this.rev = revision;
    if (events.length > 0) for (const l of [...this.listeners]) l(events);
    return revision;
  }

  watch(fromRevision: number, listener: (events: WatchEvent[]) => void): () => void {
    const compacted = (this.st.getCompacted.get() as { value: number }).value;
    if (fromRevision < compacted) throw new CompactedError(fromRevision, compacted + 1);
    // History and the subscription are taken in one synchronous step: no commit can fall between them.
    if (fromRevision < this.rev) {
      const rows = this.st.changesSince.all(fromRevision) as { revision: number; kind: Kind; key: string; type: 'put' | 'delete'; version: number; value: string }[];
      let batch: WatchEvent[] = [];
      for (const r of rows) {
        if (batch.length > 0 && batch[0].revision !== r.revision) {
          listener(batch);
          batch = [];
        }
        batch.push({ revision: r.revision, kind: r.kind, key: r.key, type: r.type, version: r.version, value: JSON.parse(r.value) as unknown });
      }
      if (batch.length > 0) listener(batch);
    }
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async appendEvents(inputs: EventInput[]): Promise<BatonEvent[]> {
    const out: BatonEvent[] = [];
    const run = this.db.transaction(() => {
      for (const e of inputs) {
        const time = e.time ?? new Date().toISOString();
        const info = this.st.insertEvent.run(time, e.type, e.project ?? null, e.service ?? null, e.task ?? null, e.node ?? null, e.message);
        const seq = Number(info.lastInsertRowid);
        out.push(clean({ seq, time, type: e.type, project: e.project, service: e.service, task: e.task, node: e.node, message: e.message }));
        if (seq % 1000 === 0 && seq > EVENTS_KEPT) this.st.trimEvents.run(seq - EVENTS_KEPT);
      }
    });
    run();
    for (const e of out) for (const l of [...this.eventListeners]) l(e);
    return out;
  }

  async events(q: EventQuery): Promise<BatonEvent[]> {
    const limit = q.limit ?? -1;
    type EvRow = Omit<BatonEvent, 'project' | 'service' | 'task' | 'node'> & { project: string | null; service: string | null; task: string | null; node: string | null };
    let rows: EvRow[];
    if (q.since !== undefined) {
      rows = (q.project ? this.st.eventsSinceProject.all(q.since, q.project, limit) : this.st.eventsSince.all(q.since, limit)) as EvRow[];
    } else {
      const n = q.limit ?? EVENTS_KEPT;
      rows = (q.project ? this.st.eventsLastProject.all(q.project, n) : this.st.eventsLast.all(n)) as EvRow[];
    }
    return rows.map((r) => clean({ ...r, project: r.project ?? undefined, service: r.service ?? undefined, task: r.task ?? undefined, node: r.node ?? undefined }));
  }

  onEvent(listener: (e: BatonEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => void this.eventListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.eventListeners.clear();
    this.db.close();
  }
}

function toVersioned<T>(r: Row): Versioned<T> {
  return { key: r.key, version: r.version, modRevision: r.mod_revision, value: JSON.parse(r.value) as T };
}

function clean(e: BatonEvent): BatonEvent {
  for (const k of ['project', 'service', 'task', 'node'] as const) if (e[k] === undefined) delete e[k];
  return e;
}

export function openSqliteStore(path: string, opts?: { historyLimit?: number }): SqliteStore {
  return new SqliteStore(path, opts);
}

// The default backend: SQLite in one file (better-sqlite3), no server to run. WAL mode plus a busy
// timeout make it safe for several processes on one host; every write is one IMMEDIATE transaction
// that appends to the events table, whose AUTOINCREMENT key is the store revision. Watches poll the
// events table by revision (an index range scan), so an idle watch costs one tiny query per poll.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { EventQueue } from './event-queue.js';
import {
  AlreadyExistsError,
  ConflictError,
  GoneError,
  NotFoundError,
  StoreUnavailableError,
  validateKey,
  validateKind,
  type DeleteOptions,
  type ListResult,
  type ResourceKey,
  type Store,
  type StoredObject,
  type WatchEvent,
  type WatchEventType,
  type WatchOptions,
} from './types.js';

export interface EmbeddedStoreOptions {
  /** Watch poll interval in ms (default 20). */
  readonly pollMs?: number;
  /** Events kept for watches; older ones are compacted automatically (default 100000). */
  readonly historyLimit?: number;
  /** How long a writer waits for another process's lock, in ms (default 10000). */
  readonly busyTimeoutMs?: number;
}

interface ObjectRow {
  kind: string;
  namespace: string;
  name: string;
  value: string;
  rv: number;
}
interface EventRow extends ObjectRow {
  type: WatchEventType;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS objects (
  kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
  value TEXT NOT NULL, rv INTEGER NOT NULL,
  PRIMARY KEY (kind, namespace, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  rv INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,
  kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('compacted', 0);
`;

/** What SQLite's own (event-loop blocking) busy handler may wait before write() retries itself. */
const SQLITE_BUSY_WAIT_MS = 5;

export class EmbeddedStore implements Store {
  readonly description: string;
  private readonly db: Database.Database;
  private readonly pollMs: number;
  private readonly busyTimeoutMs: number;
  private readonly historyLimit: number;
  private writesSinceCompaction = 0;
  private readonly watchers = new Set<EventQueue<WatchEvent>>();
  private readonly stmts;

  constructor(
    readonly path: string,
    opts: EmbeddedStoreOptions = {},
  ) {
    this.description = `embedded://${path}`;
    this.pollMs = opts.pollMs ?? 20;
    this.historyLimit = opts.historyLimit ?? 100_000;
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.busyTimeoutMs = opts.busyTimeoutMs ?? 10_000;
      // Opening and creating the schema may wait the full timeout (many processes start at once).
      this.db = new Database(path, { timeout: this.busyTimeoutMs });
      this.db.pragma('journal_mode = WAL');
      // NORMAL is durable across process crashes in WAL mode (only a power loss can drop the tail).
      this.db.pragma('synchronous = NORMAL');
      this.db.exec('BEGIN IMMEDIATE');
      this.db.exec(SCHEMA);
      this.db.exec('COMMIT');
      this.db.pragma(`busy_timeout = ${SQLITE_BUSY_WAIT_MS}`);
    } catch (err) {
      throw new StoreUnavailableError(`cannot open embedded store ${path}: ${(err as Error).message}`, err);
    }
    const db = this.db;
    this.stmts = {
      get: db.prepare<[string, string, string], ObjectRow>(
        'SELECT kind, namespace, name, value, rv FROM objects WHERE kind = ? AND namespace = ? AND name = ?',
      ),
      listKind: db.prepare<[string], ObjectRow>(
        'SELECT kind, namespace, name, value, rv FROM objects WHERE kind = ? ORDER BY namespace, name',
      ),
      listNs: db.prepare<[string, string], ObjectRow>(
        'SELECT kind, namespace, name, value, rv FROM objects WHERE kind = ? AND namespace = ? ORDER BY name',
      ),
      revision: db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'events'"),
      compacted: db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'compacted'"),
      addEvent: db.prepare<[string, string, string, string, string]>(
        'INSERT INTO events (type, kind, namespace, name, value) VALUES (?, ?, ?, ?, ?)',
      ),
      upsert: db.prepare<[string, string, string, string, number]>(
        'INSERT OR REPLACE INTO objects (kind, namespace, name, value, rv) VALUES (?, ?, ?, ?, ?)',
      ),
      remove: db.prepare<[string, string, string]>(
        'DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?',
      ),
      eventsAll: db.prepare<[number], EventRow>('SELECT * FROM events WHERE rv > ? ORDER BY rv LIMIT 1000'),
      eventsKind: db.prepare<[number, string], EventRow>(
        'SELECT * FROM events WHERE rv > ? AND kind = ? ORDER BY rv LIMIT 1000',
      ),
      dropEvents: db.prepare<[number]>('DELETE FROM events WHERE rv <= ?'),
      setCompacted: db.prepare<[number]>("UPDATE meta SET value = max(value, ?) WHERE key = 'compacted'"),
    };
  }

  private currentRevision(): number {
    return this.stmts.revision.get()?.seq ?? 0;
  }

  async get<T>(key: ResourceKey): Promise<StoredObject<T> | undefined> {
    validateKey(key);
    const row = this.run(() => this.stmts.get.get(key.kind, key.namespace, key.name));
    return row ? toObject<T>(row) : undefined;
  }

  async list<T>(kind: string, namespace?: string): Promise<ListResult<T>> {
    validateKind(kind);
    // One read transaction: the rows and the revision come from the same snapshot.
    return this.run(
      this.db.transaction(() => {
        const rows =
          namespace === undefined ? this.stmts.listKind.all(kind) : this.stmts.listNs.all(kind, namespace);
        return { items: rows.map((r) => toObject<T>(r)), revision: String(this.currentRevision()) };
      }),
    );
  }

  async create<T>(key: ResourceKey, value: T): Promise<StoredObject<T>> {
    validateKey(key);
    const json = JSON.stringify(value);
    return this.write(() => {
      if (this.stmts.get.get(key.kind, key.namespace, key.name)) throw new AlreadyExistsError(key);
      return this.put<T>(key, json, 'ADDED');
    });
  }

  async update<T>(key: ResourceKey, value: T, resourceVersion: string): Promise<StoredObject<T>> {
    validateKey(key);
    const json = JSON.stringify(value);
    return this.write(() => {
      const cur = this.stmts.get.get(key.kind, key.namespace, key.name);
      if (!cur) throw new NotFoundError(key);
      if (String(cur.rv) !== resourceVersion) throw new ConflictError(key, resourceVersion, String(cur.rv));
      return this.put<T>(key, json, 'MODIFIED');
    });
  }

  async delete(key: ResourceKey, opts: DeleteOptions = {}): Promise<boolean> {
    validateKey(key);
    return this.write(() => {
      const cur = this.stmts.get.get(key.kind, key.namespace, key.name);
      if (!cur) {
        if (opts.resourceVersion !== undefined) throw new ConflictError(key, opts.resourceVersion, undefined);
        return false;
      }
      if (opts.resourceVersion !== undefined && String(cur.rv) !== opts.resourceVersion) {
        throw new ConflictError(key, opts.resourceVersion, String(cur.rv));
      }
      this.stmts.addEvent.run('DELETED', key.kind, key.namespace, key.name, cur.value);
      this.stmts.remove.run(key.kind, key.namespace, key.name);
      return true;
    });
  }

  private put<T>(key: ResourceKey, json: string, type: 'ADDED' | 'MODIFIED'): StoredObject<T> {
    const rv = Number(this.stmts.addEvent.run(type, key.kind, key.namespace, key.name, json).lastInsertRowid);
    this.stmts.upsert.run(key.kind, key.namespace, key.name, json, rv);
    return toObject<T>({ kind: key.kind, namespace: key.namespace, name: key.name, value: json, rv });
  }

  /**
   * Runs fn in an IMMEDIATE transaction (takes the write lock up front: no upgrade deadlocks).
   * Lock waits are short and asynchronous: SQLite's own busy handler sleeps in growing steps (up
   * to 100 ms) and blocks the event loop meanwhile, so it is given only a few ms and the rest of
   * the wait is a jittered 1-3 ms retry here, up to busyTimeoutMs.
   */
  private async write<R>(fn: () => R): Promise<R> {
    const deadline = Date.now() + this.busyTimeoutMs;
    let result: R;
    for (;;) {
      try {
        result = this.run(() => this.db.transaction(fn).immediate());
        break;
      } catch (err) {
        const busy = err instanceof StoreUnavailableError && /SQLITE_BUSY/.test(err.message);
        if (!busy || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 1 + Math.random() * 2));
      }
    }
    if (++this.writesSinceCompaction >= 1000) {
      this.writesSinceCompaction = 0;
      const keepFrom = this.currentRevision() - this.historyLimit;
      if (keepFrom > 0) this.compactSync(keepFrom);
    }
    return result;
  }

  private run<R>(fn: () => R): R {
    if (!this.db.open) throw new StoreUnavailableError(`${this.description} is closed`);
    try {
      return fn();
    } catch (err) {
      if (err instanceof Database.SqliteError) {
        throw new StoreUnavailableError(`${this.description}: ${err.code}: ${err.message}`, err);
      }
      throw err;
    }
  }

  watch(opts: WatchOptions): AsyncIterableIterator<WatchEvent> {
    if (opts.kind !== undefined) validateKind(opts.kind);
    let from = Number(opts.fromRevision);
    let timer: NodeJS.Timeout | undefined;
    const queue: EventQueue<WatchEvent> = new EventQueue<WatchEvent>(() => {
      clearTimeout(timer);
      this.watchers.delete(queue);
    }, opts.signal);
    const poll = (): void => {
      if (queue.closed) return;
      try {
        // Events and the compaction mark are read in one snapshot, so a gap is always detected.
        const { rows, compacted } = this.run(
          this.db.transaction(() => ({
            compacted: this.stmts.compacted.get()?.value ?? 0,
            rows:
              opts.kind === undefined
                ? this.stmts.eventsAll.all(from)
                : this.stmts.eventsKind.all(from, opts.kind),
          })),
        );
        if (from < compacted) {
          queue.fail(new GoneError(String(from), String(compacted)));
          return;
        }
        for (const r of rows) {
          queue.push({ type: r.type, object: toObject(r), revision: String(r.rv) });
          from = r.rv;
        }
        // A full page means more is waiting: fetch it now rather than after the poll interval.
        timer = setTimeout(poll, rows.length === 1000 ? 0 : this.pollMs);
      } catch (err) {
        queue.fail(err);
      }
    };
    if (!queue.closed) {
      this.watchers.add(queue);
      poll();
    }
    return queue;
  }

  async compact(revision: string): Promise<void> {
    this.compactSync(Number(revision));
  }

  private compactSync(revision: number): void {
    this.run(() =>
      this.db
        .transaction(() => {
          this.stmts.dropEvents.run(revision);
          this.stmts.setCompacted.run(revision);
        })
        .immediate(),
    );
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.end();
    if (this.db.open) this.db.close();
  }
}

function toObject<T>(r: ObjectRow): StoredObject<T> {
  return {
    kind: r.kind,
    namespace: r.namespace,
    name: r.name,
    value: JSON.parse(r.value) as T,
    resourceVersion: String(r.rv),
  };
}

// The datastore interface shared by the agent, the CNI path, the IPAM and the lab.
// Resources are JSON values keyed by (kind, namespace, name); every write gets a new, strictly
// increasing revision, which is the object's resourceVersion and the position of its watch event.

export interface ResourceKey {
  /** Resource kind, e.g. "IPReservation" (letters and digits, starting with a letter). */
  readonly kind: string;
  /** Namespace; "" for cluster-scoped resources. */
  readonly namespace: string;
  readonly name: string;
}

export interface StoredObject<T = unknown> extends ResourceKey {
  readonly value: T;
  /** Revision of the last write of this object (decimal string; compare with compareRevisions). */
  readonly resourceVersion: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent<T = unknown> {
  readonly type: WatchEventType;
  /**
   * The object after the change; for DELETED, its last value, with the deletion's revision as its
   * resourceVersion (as Kubernetes does).
   */
  readonly object: StoredObject<T>;
  /** Revision of this change (for DELETED, the deletion's revision). */
  readonly revision: string;
}

export interface ListResult<T = unknown> {
  readonly items: StoredObject<T>[];
  /** Store revision the list is consistent with: watch from here to miss nothing. */
  readonly revision: string;
}

export interface WatchOptions {
  /** Only this kind (default: every kind). */
  readonly kind?: string;
  /** Deliver the changes made after this revision (as returned by list). */
  readonly fromRevision: string;
  /** Ends the watch (the iterator then finishes normally). */
  readonly signal?: AbortSignal;
}

export interface DeleteOptions {
  /** Delete only if the object still has this resourceVersion (else ConflictError). */
  readonly resourceVersion?: string;
}

export interface Store {
  /** Human-readable description of the backend (for messages; never includes credentials). */
  readonly description: string;
  get<T = unknown>(key: ResourceKey): Promise<StoredObject<T> | undefined>;
  list<T = unknown>(kind: string, namespace?: string): Promise<ListResult<T>>;
  /** Create-if-absent: throws AlreadyExistsError if the key exists. */
  create<T>(key: ResourceKey, value: T): Promise<StoredObject<T>>;
  /** Compare-and-swap: throws ConflictError if the resourceVersion moved, NotFoundError if absent. */
  update<T>(key: ResourceKey, value: T, resourceVersion: string): Promise<StoredObject<T>>;
  /** Returns false if the key was absent; throws ConflictError if a given resourceVersion moved. */
  delete(key: ResourceKey, opts?: DeleteOptions): Promise<boolean>;
  /**
   * Ordered changes after opts.fromRevision. The iterator throws GoneError when that history was
   * compacted away (re-list then, see listThenWatch).
   */
  watch(opts: WatchOptions): AsyncIterableIterator<WatchEvent>;
  /** Drops the change history up to and including `revision` (watches from before it get Gone). */
  compact(revision: string): Promise<void>;
  close(): Promise<void>;
}

/** Base class: every store error carries a stable code (checked across module copies). */
export class StoreError extends Error {
  constructor(
    readonly code: 'AlreadyExists' | 'Conflict' | 'NotFound' | 'Gone' | 'Unavailable' | 'Invalid',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = `${code}Error`;
  }
}

function describeKey(k: ResourceKey): string {
  return `${k.kind} ${k.namespace ? `${k.namespace}/` : ''}${k.name}`;
}

export class AlreadyExistsError extends StoreError {
  constructor(readonly key: ResourceKey) {
    super('AlreadyExists', `${describeKey(key)} already exists`);
  }
}

export class ConflictError extends StoreError {
  constructor(
    readonly key: ResourceKey,
    readonly expected: string,
    readonly actual: string | undefined,
  ) {
    super(
      'Conflict',
      `${describeKey(key)}: resourceVersion ${expected} is stale (now ${actual ?? 'deleted'})`,
    );
  }
}

export class NotFoundError extends StoreError {
  constructor(readonly key: ResourceKey) {
    super('NotFound', `${describeKey(key)} not found`);
  }
}

/** Like Kubernetes' 410 Gone: the requested history was compacted; list again. */
export class GoneError extends StoreError {
  constructor(
    readonly fromRevision: string,
    readonly compactedRevision: string,
  ) {
    super(
      'Gone',
      `watch from revision ${fromRevision} is too old (history compacted up to ${compactedRevision}); re-list`,
    );
  }
}

export class StoreUnavailableError extends StoreError {
  constructor(message: string, cause?: unknown) {
    super('Unavailable', message, { cause });
  }
}

export class InvalidStoreInputError extends StoreError {
  constructor(message: string) {
    super('Invalid', message);
  }
}

export function isStoreError(err: unknown, code: StoreError['code']): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

const KIND_RE = /^[A-Za-z][A-Za-z0-9]{0,62}$/;
// Names and namespaces become etcd key segments and SQLite keys: no '/', no control characters.
// eslint-disable-next-line no-control-regex
const SEGMENT_RE = /^[^/\u0000-\u001f\u007f]{1,253}$/;

export function validateKind(kind: string): void {
  if (!KIND_RE.test(kind)) {
    throw new InvalidStoreInputError(
      `kind ${JSON.stringify(kind)}: must be letters and digits, starting with a letter`,
    );
  }
}

export function validateKey(key: ResourceKey): void {
  validateKind(key.kind);
  if (key.namespace !== '' && !SEGMENT_RE.test(key.namespace)) {
    throw new InvalidStoreInputError(
      `${key.kind} namespace ${JSON.stringify(key.namespace)}: must be 1-253 characters without '/' or control characters`,
    );
  }
  if (!SEGMENT_RE.test(key.name)) {
    throw new InvalidStoreInputError(
      `${key.kind} name ${JSON.stringify(key.name)}: must be 1-253 characters without '/' or control characters`,
    );
  }
}

export function compareRevisions(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

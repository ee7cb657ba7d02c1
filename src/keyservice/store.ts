import Database from 'better-sqlite3';
import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import { SemirtError } from '../errors.js';
import type { Sealer } from '../crypto/seal.js';

/** A registered user: the id key and the last replay counter accepted from them. */
export interface UserRecord {
  readonly idKey: Buffer;
  readonly counter: number;
}

const SCHEMA_VERSION = 1;
const SEAL_CHECK = 'semirt keyservice sealing check';

/**
 * The KeyService's embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a
 * committed transaction survives a crash or power loss, and an interrupted one leaves nothing.
 * Every value is sealed and bound to its record's identity (see Sealer); grants carry a sealed
 * marker so that a row inserted behind the KeyService's back is not honoured.
 */
export class KeyStore {
  readonly #db: SqliteDatabase;
  readonly #sealer: Sealer;
  readonly #statements: ReturnType<typeof prepare>;

  private constructor(db: SqliteDatabase, sealer: Sealer) {
    this.#db = db;
    this.#sealer = sealer;
    this.#statements = prepare(db);
  }

  /** Opens (creating if needed) the database at `path` and checks the sealing key against it. */
  static open(path: string, sealer: Sealer): KeyStore {
    let db: SqliteDatabase;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      db.exec(SCHEMA);
    } catch (cause) {
      throw new SemirtError(
        'INVALID_OPTION',
        `Cannot open the KeyService database "${path}": ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    }
    const store = new KeyStore(db, sealer);
    try {
      store.#checkSealingKey();
    } catch (error) {
      db.close();
      throw error;
    }
    return store;
  }

  #checkSealingKey(): void {
    const row = this.#statements.getMeta.get('seal_check') as { value: Buffer } | undefined;
    if (row === undefined) {
      this.#db
        .prepare('INSERT INTO meta (name, value) VALUES (?, ?), (?, ?)')
        .run(
          'schema_version',
          Buffer.from(String(SCHEMA_VERSION)),
          'seal_check',
          this.#sealer.seal(Buffer.from(SEAL_CHECK), 'meta:seal_check'),
        );
      return;
    }
    try {
      this.#sealer.unseal(row.value, 'meta:seal_check');
    } catch (cause) {
      throw new SemirtError(
        'SEALED_RECORD_INVALID',
        'Cannot open the KeyService database: it was sealed under a different sealing key',
        { cause },
      );
    }
  }

  /** Runs `fn` in one IMMEDIATE transaction: all of its writes commit (durably) or none do. */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  /** Adds a user; false if the id is taken. */
  addUser(userId: string, idKey: Uint8Array): boolean {
    const result = this.#statements.insertUser.run(userId, this.#sealUser(userId, idKey, 0));
    return result.changes === 1;
  }

  /** The user's id key and last accepted counter, or undefined if not registered. */
  getUser(userId: string): UserRecord | undefined {
    const row = this.#statements.getUser.get(userId) as { record: Buffer } | undefined;
    if (row === undefined) return undefined;
    const plain = this.#sealer.unseal(row.record, context('user', userId));
    return { counter: Number(plain.readBigUInt64BE(0)), idKey: plain.subarray(8) };
  }

  /** Records the last counter accepted from a user (the caller checked that it increases). */
  setCounter(userId: string, idKey: Uint8Array, counter: number): void {
    this.#statements.updateUser.run(this.#sealUser(userId, idKey, counter), userId);
  }

  /** Sets a model's key. */
  putModelKey(modelId: string, key: Uint8Array): void {
    this.#statements.putModelKey.run(
      modelId,
      this.#sealer.seal(key, context('model_key', modelId)),
    );
  }

  /** A model's key, or undefined. */
  getModelKey(modelId: string): Buffer | undefined {
    const row = this.#statements.getModelKey.get(modelId) as { sealed: Buffer } | undefined;
    return row && this.#sealer.unseal(row.sealed, context('model_key', modelId));
  }

  /** Sets a user's request key for a (model, measurement). */
  putRequestKey(modelId: string, measurement: string, userId: string, key: Uint8Array): void {
    const ctx = context('request_key', modelId, measurement, userId);
    this.#statements.putRequestKey.run(modelId, measurement, userId, this.#sealer.seal(key, ctx));
  }

  /** A user's request key for a (model, measurement), or undefined. */
  getRequestKey(modelId: string, measurement: string, userId: string): Buffer | undefined {
    const row = this.#statements.getRequestKey.get(modelId, measurement, userId) as
      { sealed: Buffer } | undefined;
    return (
      row && this.#sealer.unseal(row.sealed, context('request_key', modelId, measurement, userId))
    );
  }

  /** Grants (measurement, user) access to a model; granting twice is harmless. */
  addGrant(modelId: string, measurement: string, userId: string): void {
    const marker = this.#sealer.seal(
      new Uint8Array(0),
      context('grant', modelId, measurement, userId),
    );
    this.#statements.addGrant.run(modelId, measurement, userId, marker);
  }

  /** Removes a grant; false if there was none. */
  removeGrant(modelId: string, measurement: string, userId: string): boolean {
    return this.#statements.removeGrant.run(modelId, measurement, userId).changes === 1;
  }

  /** Tells whether (measurement, user) may use a model; a grant whose seal fails throws. */
  hasGrant(modelId: string, measurement: string, userId: string): boolean {
    const row = this.#statements.getGrant.get(modelId, measurement, userId) as
      { sealed: Buffer } | undefined;
    if (row === undefined) return false;
    this.#sealer.unseal(row.sealed, context('grant', modelId, measurement, userId));
    return true;
  }

  /** Closes the database (checkpointing the WAL). */
  close(): void {
    this.#db.close();
  }

  #sealUser(userId: string, idKey: Uint8Array, counter: number): Buffer {
    const plain = Buffer.alloc(8 + idKey.length);
    plain.writeBigUInt64BE(BigInt(counter), 0);
    plain.set(idKey, 8);
    const sealed = this.#sealer.seal(plain, context('user', userId));
    plain.fill(0);
    return sealed;
  }
}

/** The record identity a sealed value is bound to; JSON keeps the parts unambiguous. */
function context(kind: string, ...ids: string[]): string {
  return JSON.stringify([kind, ...ids]);
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS users (user_id TEXT PRIMARY KEY, record BLOB NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS model_keys (model_id TEXT PRIMARY KEY, sealed BLOB NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS request_keys (
  model_id TEXT NOT NULL, measurement TEXT NOT NULL, user_id TEXT NOT NULL, sealed BLOB NOT NULL,
  PRIMARY KEY (model_id, measurement, user_id)) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS grants (
  model_id TEXT NOT NULL, measurement TEXT NOT NULL, user_id TEXT NOT NULL, sealed BLOB NOT NULL,
  PRIMARY KEY (model_id, measurement, user_id)) STRICT, WITHOUT ROWID;
`;

function prepare(db: SqliteDatabase) {
  const s = (sql: string): Statement => db.prepare(sql);
  return {
    getMeta: s('SELECT value FROM meta WHERE name = ?'),
    insertUser: s('INSERT OR IGNORE INTO users (user_id, record) VALUES (?, ?)'),
    getUser: s('SELECT record FROM users WHERE user_id = ?'),
    updateUser: s('UPDATE users SET record = ? WHERE user_id = ?'),
    putModelKey: s(
      'INSERT INTO model_keys (model_id, sealed) VALUES (?, ?) ON CONFLICT (model_id) DO UPDATE SET sealed = excluded.sealed',
    ),
    getModelKey: s('SELECT sealed FROM model_keys WHERE model_id = ?'),
    putRequestKey: s(
      'INSERT INTO request_keys (model_id, measurement, user_id, sealed) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET sealed = excluded.sealed',
    ),
    getRequestKey: s(
      'SELECT sealed FROM request_keys WHERE model_id = ? AND measurement = ? AND user_id = ?',
    ),
    addGrant: s(
      'INSERT INTO grants (model_id, measurement, user_id, sealed) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    removeGrant: s('DELETE FROM grants WHERE model_id = ? AND measurement = ? AND user_id = ?'),
    getGrant: s('SELECT sealed FROM grants WHERE model_id = ? AND measurement = ? AND user_id = ?'),
  };
}

/**
 * The SQLite storage engine (better-sqlite3). Schema after every migration in `./migrations.ts`
 * (times are whole seconds since the epoch; keep this comment in step when adding a migration):
 *
 *   schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)
 *
 *   clients       (client_id TEXT PRIMARY KEY, secret_hash TEXT, grants TEXT (JSON array),
 *                  scopes TEXT (JSON array), redirect_uris TEXT (JSON array), audience TEXT,
 *                  access_token_format TEXT 'jwt'|'opaque', access_token_ttl INTEGER,
 *                  resource_server INTEGER 0|1, created_at INTEGER)
 *   signing_keys  (kid TEXT PRIMARY KEY, alg TEXT, public_jwk TEXT (JSON), private_key TEXT,
 *                  created_at INTEGER, activates_at INTEGER, superseded_at INTEGER NULL,
 *                  published_until INTEGER NULL, retired_at INTEGER NULL)
 *   opaque_tokens (hash TEXT PRIMARY KEY, client_id TEXT, sub TEXT, scope TEXT, aud TEXT, jti TEXT,
 *                  sid TEXT NULL, issued_at INTEGER, expires_at INTEGER)
 *                  INDEX (expires_at), INDEX (client_id)
 *   revocations   (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, value TEXT, client_id TEXT NULL,
 *                  created_at INTEGER, expires_at INTEGER)
 *                  INDEX (kind, value), INDEX (expires_at)
 *
 * Every table is STRICT, so a value of the wrong type is refused rather than stored.
 */

import type Database from 'better-sqlite3'
import { StoreUnavailableError } from '../../errors.js'
import type {
  ClientRecord,
  OpaqueTokenRecord,
  RevocationEvent,
  RevocationInput,
  RevocationRef,
  SigningKeyRecord,
  Store,
} from '../types.js'
import { createParentFolder, openConnection, toStoreError } from './connection.js'
import { migrate } from './migrations.js'
import {
  clientFromRow,
  clientParams,
  keyFromRow,
  keyParams,
  revocationFromRow,
  revocationParams,
  tokenFromRow,
  tokenParams,
  type ClientRow,
  type KeyRow,
  type Params,
  type RevocationRow,
  type TokenRow,
} from './rows.js'

export interface SqliteStoreOptions {
  /** Seconds since the epoch; stamps `schema_migrations.applied_at`. Defaults to the system clock. */
  clock?: () => number
  /**
   * Milliseconds a statement waits for another connection's lock before it fails with
   * `StoreUnavailableError`. Defaults to 5000.
   */
  busyTimeoutMs?: number
}

/**
 * Opens (creating if needed) the SQLite database at `path`, or an in-memory one for `':memory:'`,
 * creates its parent folder, and applies pending migrations. Synchronous: the store is ready when
 * this returns.
 *
 * Throws `StoreUnavailableError` when the folder cannot be created or the file cannot be opened in
 * WAL mode, and a plain `Error` when the database was migrated by a newer Latchkey.
 */
export function createSqliteStore(path: string, options: SqliteStoreOptions = {}): Store {
  const clock = options.clock ?? (() => Math.floor(Date.now() / 1000))
  const busyTimeout = options.busyTimeoutMs ?? 5000
  // '' is a private temporary database: like ':memory:', a second connection would see another one.
  const memory = path === ':memory:' || path === ''
  if (!memory) createParentFolder(path)

  const opened: Database.Database[] = []
  try {
    const main = openConnection(path, busyTimeout, 'NORMAL')
    opened.push(main)
    if (!memory) {
      const mode = main.pragma('journal_mode = WAL', { simple: true })
      if (mode !== 'wal') {
        throw new StoreUnavailableError(`cannot put the SQLite database ${path} in WAL mode`)
      }
    }
    migrate(main, clock())
    // Durability. In WAL mode a commit appends to the -wal file; `synchronous = NORMAL` skips the
    // fsync at commit (the WAL is synced only at checkpoint), so a power loss can undo the last few
    // commits but never corrupts the file. That is right for opaque-token inserts, which are
    // frequent and cheap to lose (the client asks again). A revocation must not be lost once
    // acknowledged, so writes that take access away go through a second connection with
    // `synchronous = FULL`, whose commits fsync the WAL before returning. The WAL is one append-only
    // file, so that fsync also makes every earlier NORMAL commit durable. `synchronous` is a
    // per-connection setting, hence two connections. An in-memory database has no file to sync and
    // is private to its connection, so it uses one.
    const durable = memory ? main : openConnection(path, busyTimeout, 'FULL')
    if (durable !== main) opened.push(durable)
    return new SqliteStore(main, durable)
  } catch (error) {
    for (const db of opened) db.close()
    throw toStoreError(error)
  }
}

/**
 * One query for any number of refs: an OR of `(kind, value)` pairs, which SQLite answers with one
 * lookup per pair in `revocations_kind_value` (MULTI-INDEX OR). Parameters: the pairs, then `now`,
 * then `issuedAt`.
 */
function isRevokedSql(refCount: number): string {
  const pairs = Array.from({ length: refCount }, () => '(kind = ? AND value = ?)').join(' OR ')
  return (
    `SELECT 1 FROM revocations WHERE (${pairs}) AND expires_at >= ?` +
    // `sub` and `client` events cover only what was issued at or before them.
    ` AND (kind NOT IN ('sub', 'client') OR created_at >= ?) LIMIT 1`
  )
}

const TOKEN_COLUMNS = 'hash, client_id, sub, scope, aud, jti, sid, issued_at, expires_at'
const REVOCATION_COLUMNS = 'seq, kind, value, client_id, created_at, expires_at'

class SqliteStore implements Store {
  readonly engine = 'sqlite'
  private closed = false
  /** `isRevoked` statements by number of refs: 1 to 6 prepared at open, longer lists on first use. */
  private readonly isRevokedByCount = new Map<number, Database.Statement<Params, 1>>()

  // Ordinary reads and writes: the main connection (`synchronous = NORMAL`).
  private readonly insertClient
  private readonly selectClient
  private readonly selectClients
  private readonly insertKeyRow
  private readonly selectKeys
  private readonly selectKey
  private readonly supersedeKeys
  private readonly insertToken
  private readonly selectToken
  private readonly deleteExpiredTokens
  private readonly selectRevocations
  private readonly deleteExpiredRevocations
  private readonly selectOne

  // Writes that take access away: the durable connection (`synchronous = FULL`).
  private readonly insertRevocation
  private readonly retireKeyRow
  private readonly revokeTokenTx
  private readonly deleteClientTx

  constructor(
    private readonly main: Database.Database,
    private readonly durable: Database.Database,
  ) {
    this.insertClient = main.prepare<Params>(
      `INSERT INTO clients (client_id, secret_hash, grants, scopes, redirect_uris, audience,
         access_token_format, access_token_ttl, resource_server, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.selectClient = main.prepare<[string], ClientRow>(
      'SELECT * FROM clients WHERE client_id = ?',
    )
    this.selectClients = main.prepare<[], ClientRow>('SELECT * FROM clients ORDER BY client_id')

    this.insertKeyRow = main.prepare<Params>(
      `INSERT INTO signing_keys (kid, alg, public_jwk, private_key, created_at, activates_at,
         superseded_at, published_until, retired_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.selectKeys = main.prepare<[], KeyRow>(
      'SELECT * FROM signing_keys ORDER BY created_at, rowid',
    )
    this.selectKey = main.prepare<[string], KeyRow>('SELECT * FROM signing_keys WHERE kid = ?')
    this.supersedeKeys = main.prepare<[number, number, string]>(
      `UPDATE signing_keys SET superseded_at = ?, published_until = ?
       WHERE kid <> ? AND retired_at IS NULL AND superseded_at IS NULL`,
    )

    this.insertToken = main.prepare<Params>(
      `INSERT INTO opaque_tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.selectToken = main.prepare<[string, number], TokenRow>(
      `SELECT ${TOKEN_COLUMNS} FROM opaque_tokens WHERE hash = ? AND expires_at > ?`,
    )
    this.deleteExpiredTokens = main.prepare<[number]>(
      'DELETE FROM opaque_tokens WHERE expires_at < ?',
    )

    this.selectRevocations = main.prepare<[number, number], RevocationRow>(
      `SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE seq > ? ORDER BY seq LIMIT ?`,
    )
    this.deleteExpiredRevocations = main.prepare<[number]>(
      'DELETE FROM revocations WHERE expires_at < ?',
    )
    this.selectOne = main.prepare<[], 1>('SELECT 1').pluck()
    for (let count = 1; count <= 6; count++) {
      this.isRevokedByCount.set(count, main.prepare<Params, 1>(isRevokedSql(count)))
    }

    const insertRevocation = durable.prepare<Params>(
      `INSERT INTO revocations (kind, value, client_id, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?)`,
    )
    this.insertRevocation = insertRevocation
    this.retireKeyRow = durable.prepare<[number, string]>(
      'UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL',
    )
    const deleteToken = durable.prepare<[string]>('DELETE FROM opaque_tokens WHERE hash = ?')
    this.revokeTokenTx = durable.transaction((hash: string, event: RevocationInput): boolean => {
      if (deleteToken.run(hash).changes === 0) return false
      insertRevocation.run(...revocationParams(event))
      return true
    })
    const deleteClientTokens = durable.prepare<[string]>(
      'DELETE FROM opaque_tokens WHERE client_id = ?',
    )
    const deleteClientRow = durable.prepare<[string]>('DELETE FROM clients WHERE client_id = ?')
    this.deleteClientTx = durable.transaction((clientId: string): boolean => {
      deleteClientTokens.run(clientId)
      return deleteClientRow.run(clientId).changes > 0
    })
  }

  /** Runs `work` synchronously and settles with its result, errors mapped to the contract's. */
  private attempt<T>(work: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('the SQLite store is closed'))
    try {
      return Promise.resolve(work())
    } catch (error) {
      return Promise.reject(toStoreError(error))
    }
  }

  createClient(client: ClientRecord): Promise<void> {
    return this.attempt(() => {
      this.insertClient.run(...clientParams(client))
    })
  }

  getClient(clientId: string): Promise<ClientRecord | null> {
    return this.attempt(() => {
      const row = this.selectClient.get(clientId)
      return row === undefined ? null : clientFromRow(row)
    })
  }

  listClients(): Promise<ClientRecord[]> {
    return this.attempt(() => this.selectClients.all().map(clientFromRow))
  }

  deleteClient(clientId: string): Promise<boolean> {
    return this.attempt(() => this.deleteClientTx.immediate(clientId))
  }

  insertKey(key: SigningKeyRecord): Promise<void> {
    return this.attempt(() => {
      this.insertKeyRow.run(...keyParams(key))
    })
  }

  listKeys(): Promise<SigningKeyRecord[]> {
    return this.attempt(() => this.selectKeys.all().map(keyFromRow))
  }

  getKey(kid: string): Promise<SigningKeyRecord | null> {
    return this.attempt(() => {
      const row = this.selectKey.get(kid)
      return row === undefined ? null : keyFromRow(row)
    })
  }

  supersedeKeysExcept(kid: string, at: number, publishedUntil: number): Promise<void> {
    // One UPDATE statement, so atomic on its own.
    return this.attempt(() => {
      this.supersedeKeys.run(at, publishedUntil, kid)
    })
  }

  retireKey(kid: string, at: number): Promise<boolean> {
    return this.attempt(() => this.retireKeyRow.run(at, kid).changes > 0)
  }

  saveToken(token: OpaqueTokenRecord): Promise<void> {
    return this.attempt(() => {
      this.insertToken.run(...tokenParams(token))
    })
  }

  findToken(hash: string, now: number): Promise<OpaqueTokenRecord | null> {
    // Live while now < expiresAt, like a JWT's `exp` (RFC 7519 §4.1.4: "on or after which the JWT
    // MUST NOT be accepted").
    return this.attempt(() => {
      const row = this.selectToken.get(hash, now)
      return row === undefined ? null : tokenFromRow(row)
    })
  }

  revokeToken(hash: string, event: RevocationInput): Promise<boolean> {
    return this.attempt(() => this.revokeTokenTx.immediate(hash, event))
  }

  pruneTokens(now: number): Promise<number> {
    return this.attempt(() => this.deleteExpiredTokens.run(now).changes)
  }

  appendRevocation(event: RevocationInput): Promise<number> {
    return this.attempt(() =>
      Number(this.insertRevocation.run(...revocationParams(event)).lastInsertRowid),
    )
  }

  isRevoked(refs: RevocationRef[], issuedAt: number, now: number): Promise<boolean> {
    return this.attempt(() => {
      if (refs.length === 0) return false
      let statement = this.isRevokedByCount.get(refs.length)
      if (statement === undefined) {
        statement = this.main.prepare<Params, 1>(isRevokedSql(refs.length))
        this.isRevokedByCount.set(refs.length, statement)
      }
      const params: Params = []
      for (const ref of refs) params.push(ref.kind, ref.value)
      params.push(now, issuedAt)
      return statement.get(...params) !== undefined
    })
  }

  listRevocations(after: number, limit: number): Promise<RevocationEvent[]> {
    return this.attempt(() => {
      // SQLite reads a negative LIMIT as "no limit"; the contract says "at most limit".
      if (!(limit >= 1)) return []
      return this.selectRevocations.all(after, Math.floor(limit)).map(revocationFromRow)
    })
  }

  pruneRevocations(now: number): Promise<number> {
    // Strictly before `now`: an event is live through its `expiresAt` second, as `isRevoked` reads it.
    return this.attempt(() => this.deleteExpiredRevocations.run(now).changes)
  }

  ping(): Promise<void> {
    return this.attempt(() => {
      this.selectOne.get()
    })
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve()
    this.closed = true
    try {
      try {
        if (this.durable !== this.main) this.durable.close()
      } finally {
        this.main.close()
      }
      return Promise.resolve()
    } catch (error) {
      return Promise.reject(toStoreError(error))
    }
  }
}

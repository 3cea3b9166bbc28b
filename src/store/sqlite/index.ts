/**
 * The SQLite storage engine (better-sqlite3). Schema after every migration in `./migrations.ts`
 * (times are whole seconds since the epoch; keep this comment in step when adding a migration):
 *
 *   schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)
 *
 *   clients       (client_id TEXT PRIMARY KEY, secret_hash TEXT NULL, grants TEXT (JSON array),
 *                  scopes TEXT (JSON array), redirect_uris TEXT (JSON array),
 *                  access_token_format TEXT 'jwt'|'opaque', access_token_ttl INTEGER,
 *                  resource_server INTEGER 0|1, created_at INTEGER,
 *                  auth_method TEXT 'client_secret_basic'|'client_secret_post'|'private_key_jwt'|
 *                  'none' or NULL (either secret method), jwks TEXT NULL (JSON Web Key Set), jwks_uri TEXT NULL,
 *                  audiences TEXT (JSON array), exchange_audiences TEXT (JSON array),
 *                  require_par INTEGER 0|1, allowed_origins TEXT (JSON array),
 *                  display_name TEXT NULL, logo_uri TEXT NULL, third_party INTEGER 0|1,
 *                  post_logout_redirect_uris TEXT (JSON array), backchannel_logout_uri TEXT NULL,
 *                  id_token_signed_response_alg TEXT, require_dpop INTEGER 0|1)
 *   signing_keys  (kid TEXT PRIMARY KEY, alg TEXT, public_jwk TEXT (JSON), private_key TEXT,
 *                  created_at INTEGER, activates_at INTEGER, superseded_at INTEGER NULL,
 *                  published_until INTEGER NULL, retired_at INTEGER NULL)
 *   opaque_tokens (hash TEXT PRIMARY KEY, client_id TEXT, sub TEXT, scope TEXT, aud TEXT, jti TEXT,
 *                  sid TEXT NULL, issued_at INTEGER, expires_at INTEGER, jkt TEXT NULL)
 *                  INDEX (expires_at), INDEX (client_id), INDEX (sid)
 *   revocations   (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, value TEXT, client_id TEXT NULL,
 *                  created_at INTEGER, expires_at INTEGER)
 *                  INDEX (kind, value), INDEX (expires_at)
 *
 *   users               (id TEXT PRIMARY KEY, username TEXT UNIQUE (case-sensitive),
 *                        password_hash TEXT, created_at INTEGER,
 *                        logins_unlocked_at INTEGER NULL, email TEXT NULL,
 *                        email_verified INTEGER 0|1, name TEXT NULL, given_name TEXT NULL,
 *                        family_name TEXT NULL)
 *   logins              (hash TEXT PRIMARY KEY, user_id TEXT, created_at INTEGER,
 *                        expires_at INTEGER)
 *                        INDEX (user_id)
 *   authorization_codes (hash TEXT PRIMARY KEY, client_id TEXT, user_id TEXT, redirect_uri TEXT,
 *                        code_challenge TEXT, scope TEXT, login_hash TEXT NULL,
 *                        created_at INTEGER, expires_at INTEGER, used_at INTEGER NULL,
 *                        session_id TEXT NULL, nonce TEXT NULL, auth_time INTEGER NULL,
 *                        claims TEXT (space-separated names))
 *                        INDEX (client_id), INDEX (user_id)
 *   sessions            (id TEXT PRIMARY KEY, user_id TEXT, client_id TEXT, scope TEXT,
 *                        login_hash TEXT NULL, created_at INTEGER, expires_at INTEGER,
 *                        idle_expires_at INTEGER, revoked_at INTEGER NULL,
 *                        auth_time INTEGER NULL, claims TEXT (space-separated names))
 *                        INDEX (user_id), INDEX (client_id), INDEX (login_hash)
 *   refresh_tokens      (hash TEXT PRIMARY KEY, session_id TEXT, client_id TEXT, user_id TEXT,
 *                        scope TEXT, issued_at INTEGER, expires_at INTEGER, used_at INTEGER NULL,
 *                        successor_hash TEXT NULL, successor_sealed TEXT NULL, jkt TEXT NULL)
 *                        INDEX (session_id), INDEX (expires_at)
 *
 *   revocation_feed     (id INTEGER PRIMARY KEY CHECK (id = 1), pruned_through INTEGER): one row,
 *                        the highest revocations.seq ever deleted by pruning
 *
 *   consents            (user_id TEXT, client_id TEXT, scope TEXT (JSON array, sorted),
 *                        granted_at INTEGER, updated_at INTEGER, PRIMARY KEY (user_id, client_id))
 *                        INDEX (client_id)
 *
 *   used_once           (kind TEXT, key TEXT, expires_at INTEGER, PRIMARY KEY (kind, key))
 *                        INDEX (expires_at)
 *   pushed_requests     (hash TEXT PRIMARY KEY, client_id TEXT, params TEXT (JSON object),
 *                        expires_at INTEGER)
 *                        INDEX (expires_at)
 *
 * Every hash is SHA-256 base64url of a token or cookie value; no token, code or cookie is stored.
 * There are no foreign keys: a deleted user's sessions stay, revoked, until they are pruned.
 * Every table is STRICT, so a value of the wrong type is refused rather than stored.
 */

import type Database from 'better-sqlite3'
import { existsSync } from 'node:fs'
import { MissingDatabaseError, StoreUnavailableError } from '../../errors.js'
import type { Store } from '../types.js'
import { createParentFolder, enableWal, openConnection, toStoreError } from './connection.js'
import { migrate } from './migrations.js'
import { SqliteStore } from './store.js'

export interface SqliteStoreOptions {
  /** Seconds since the epoch; stamps `schema_migrations.applied_at`. Defaults to the system clock. */
  clock?: () => number
  /**
   * Milliseconds a statement waits for another connection's lock before it fails with
   * `StoreUnavailableError`. Defaults to 5000.
   */
  busyTimeoutMs?: number
  /**
   * Whether a file that does not exist is created, with its folder (default true). With `false` it
   * is refused with `MissingDatabaseError` and nothing is written.
   */
  create?: boolean | undefined
}

/**
 * Opens (creating if needed) the SQLite database at `path`, or an in-memory one for `':memory:'`,
 * creates its parent folder, and applies pending migrations. Synchronous: the store is ready when
 * this returns.
 *
 * Throws `MissingDatabaseError` when the file does not exist and `create` is false,
 * `StoreUnavailableError` when the folder cannot be created or the file cannot be opened in WAL mode,
 * and a plain `Error` when the database was migrated by a newer Latchkey.
 */
export function createSqliteStore(path: string, options: SqliteStoreOptions = {}): Store {
  const clock = options.clock ?? (() => Math.floor(Date.now() / 1000))
  const busyTimeout = options.busyTimeoutMs ?? 5000
  // '' is a private temporary database: like ':memory:', a second connection would see another one.
  const memory = path === ':memory:' || path === ''
  const create = options.create ?? true
  if (!memory && create) createParentFolder(path)
  if (!memory && !create && !existsSync(path)) throw new MissingDatabaseError(path)

  const opened: Database.Database[] = []
  try {
    // `mustExist` closes the gap between the check above and the open: nothing is ever created.
    const main = openConnection(path, busyTimeout, 'NORMAL', !memory && !create)
    opened.push(main)
    if (!memory) {
      const mode = enableWal(main, busyTimeout)
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
    const durable = memory ? main : openConnection(path, busyTimeout, 'FULL', !create)
    if (durable !== main) opened.push(durable)
    return new SqliteStore(main, durable)
  } catch (error) {
    for (const db of opened) db.close()
    throw toStoreError(error)
  }
}

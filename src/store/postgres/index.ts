/**
 * The PostgreSQL storage engine (`pg`, one pool per store). Schema after every migration in
 * `./migrations.ts` (times are whole seconds since the epoch in `bigint`; keep this comment in step
 * when adding a migration):
 *
 *   schema_migrations (version integer PRIMARY KEY, applied_at bigint)
 *
 *   clients       (client_id text COLLATE "C" PRIMARY KEY, secret_hash text NULL, grants text[],
 *                  scopes text[], redirect_uris text[],
 *                  access_token_format text 'jwt'|'opaque', access_token_ttl bigint,
 *                  resource_server boolean, created_at bigint,
 *                  auth_method text 'client_secret_basic'|'client_secret_post'|'private_key_jwt'|
 *                  'none' or NULL (either secret method), jwks jsonb NULL (JSON Web Key Set), jwks_uri text NULL,
 *                  audiences text[], exchange_audiences text[], require_par boolean,
 *                  allowed_origins text[], display_name text NULL, logo_uri text NULL,
 *                  third_party boolean, post_logout_redirect_uris text[],
 *                  backchannel_logout_uri text NULL, id_token_signed_response_alg text,
 *                  require_dpop boolean)
 *   signing_keys  (kid text PRIMARY KEY, position bigint IDENTITY (insertion order), alg text,
 *                  public_jwk jsonb, private_key text, created_at bigint, activates_at bigint,
 *                  superseded_at bigint NULL, published_until bigint NULL, retired_at bigint NULL)
 *   opaque_tokens (hash text PRIMARY KEY, client_id text, sub text, scope text, aud text, jti text,
 *                  sid text NULL, issued_at bigint, expires_at bigint, jkt text NULL)
 *                  INDEX (expires_at), INDEX (client_id), INDEX (sid)
 *   revocations   (seq bigint IDENTITY PRIMARY KEY, kind text, value text, client_id text NULL,
 *                  created_at bigint, expires_at bigint)
 *                  INDEX (kind, value), INDEX (expires_at)
 *   revocation_feed (id integer PRIMARY KEY CHECK (id = 1), pruned_through bigint)
 *                  at most one row: the highest seq pruneRevocations deleted (none: 0)
 *
 *   users               (id text PRIMARY KEY, username text COLLATE "C" UNIQUE,
 *                        password_hash text, created_at bigint, logins_unlocked_at bigint NULL,
 *                        email text NULL, email_verified boolean, name text NULL,
 *                        given_name text NULL, family_name text NULL)
 *   logins              (hash text PRIMARY KEY, user_id text, created_at bigint, expires_at bigint)
 *                        INDEX (user_id), INDEX (expires_at)
 *   authorization_codes (hash text PRIMARY KEY, client_id text, user_id text, redirect_uri text,
 *                        code_challenge text, scope text, login_hash text NULL,
 *                        created_at bigint, expires_at bigint, used_at bigint NULL,
 *                        session_id text NULL, nonce text NULL, auth_time bigint NULL,
 *                        claims text (space-separated names))
 *                        INDEX (client_id), INDEX (user_id), INDEX (expires_at)
 *   sessions            (id text PRIMARY KEY, position bigint IDENTITY (insertion order),
 *                        user_id text, client_id text, scope text, login_hash text NULL,
 *                        created_at bigint, expires_at bigint, idle_expires_at bigint,
 *                        revoked_at bigint NULL, auth_time bigint NULL,
 *                        claims text (space-separated names))
 *                        INDEX (user_id), INDEX (client_id), INDEX (login_hash)
 *   refresh_tokens      (hash text PRIMARY KEY, session_id text, client_id text, user_id text,
 *                        scope text, issued_at bigint, expires_at bigint,
 *                        used_at double precision NULL (with its fraction of a second),
 *                        successor_hash text NULL, successor_sealed text NULL, jkt text NULL)
 *                        INDEX (session_id), INDEX (client_id), INDEX (user_id), INDEX (expires_at)
 *
 *   consents            (user_id text, client_id text, scope text[] (sorted), granted_at bigint,
 *                        updated_at bigint, PRIMARY KEY (user_id, client_id))
 *                        INDEX (client_id)
 *
 *   used_once           (kind text, key text, expires_at bigint, PRIMARY KEY (kind, key))
 *                        INDEX (expires_at)
 *   pushed_requests     (hash text PRIMARY KEY, client_id text, params jsonb, expires_at bigint)
 *                        INDEX (expires_at)
 *
 * Every hash is SHA-256 base64url of a token or cookie value; no token, code or cookie is stored.
 * There are no foreign keys: a deleted user's sessions stay, revoked, until they are pruned.
 * Every column is NOT NULL unless marked NULL.
 *
 * Durability: a commit returns once PostgreSQL has flushed it to its WAL (`synchronous_commit = on`,
 * the server's default, which this engine expects), so an acknowledged revocation survives a crash.
 */

import pg from 'pg'
import { ConfigError, StoreUnavailableError } from '../../errors.js'
import type { Store } from '../types.js'
import { PgDatabase, createPool, describeTarget, errorCode, isUnavailable } from './connection.js'
import { migrate } from './migrations.js'
import { PostgresStore } from './store.js'

export interface PostgresStoreOptions {
  /** Seconds since the epoch; stamps `schema_migrations.applied_at`. Defaults to the system clock. */
  clock?: () => number
  /** Connections in the pool. Defaults to 10. */
  poolSize?: number
  /** Milliseconds to wait for a connection before `StoreUnavailableError`. Defaults to 5000. */
  connectTimeoutMs?: number
  /**
   * Milliseconds a statement waits for a row lock held by another transaction before it fails with
   * `StoreUnavailableError`. Defaults to 5000.
   */
  lockTimeoutMs?: number
  /** Milliseconds to wait for a query's answer before `StoreUnavailableError`. Defaults to 10000. */
  queryTimeoutMs?: number
  /** Milliseconds `ping` waits for an answer. Defaults to 2000. */
  pingTimeoutMs?: number
}

function positiveInteger(
  options: PostgresStoreOptions,
  name: keyof PostgresStoreOptions,
  fallback: number,
): number {
  const value = options[name] ?? fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ConfigError(`store.postgres.${name} must be a positive integer`)
  }
  return value
}

/** Why opening failed, in words, without anything of the URL (which may hold a password). */
function describeFailure(error: unknown, connectTimeoutMs: number): string {
  const code = errorCode(error)
  if (code === 'ECONNREFUSED') return 'connection refused'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unknown host'
  if (error instanceof AggregateError) return describeFailure(error.errors[0], connectTimeoutMs)
  if (error instanceof Error && /timeout/i.test(error.message)) {
    return `no answer within ${connectTimeoutMs} ms`
  }
  return error instanceof Error && error.message ? error.message : String(code ?? error)
}

/**
 * Opens a pool on the database at `url` (`postgres://user:password@host:port/database`, with any
 * option `pg` takes in the URL) and applies pending migrations on a connection of its own before
 * resolving. Other nodes may open the same database at the same time.
 *
 * Rejects with `StoreUnavailableError` when the server cannot be reached now (refused, timed out,
 * shutting down), and with `ConfigError` for what waiting will not fix: bad credentials, no such
 * database, a schema migrated by a newer Latchkey. Both messages name the host, never the password.
 */
export async function createPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<Store> {
  const clock = options.clock ?? (() => Math.floor(Date.now() / 1000))
  const connectTimeoutMs = positiveInteger(options, 'connectTimeoutMs', 5000)
  const poolOptions = {
    poolSize: positiveInteger(options, 'poolSize', 10),
    connectTimeoutMs,
    lockTimeoutMs: positiveInteger(options, 'lockTimeoutMs', 5000),
    queryTimeoutMs: positiveInteger(options, 'queryTimeoutMs', 10_000),
  }
  const pingTimeoutMs = positiveInteger(options, 'pingTimeoutMs', 2000)
  const target = describeTarget(url)

  let migrator: pg.Client | undefined
  try {
    migrator = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: connectTimeoutMs,
      application_name: 'latchkey migrations',
    })
    migrator.on('error', () => {})
    await migrator.connect()
    await migrate(migrator, clock())
  } catch (error) {
    const message = `cannot open the PostgreSQL database at ${target}: ${describeFailure(error, connectTimeoutMs)}`
    // Credentials and a missing database are configuration, however they are reported.
    const transient = isUnavailable(error) && !/^(28|3D)/.test(errorCode(error) ?? '')
    throw transient
      ? new StoreUnavailableError(message, { cause: error })
      : new ConfigError(message, { cause: error })
  } finally {
    await migrator?.end().catch(() => {})
  }
  return new PostgresStore(new PgDatabase(createPool(url, poolOptions)), {
    pingTimeoutMs,
    url,
    connectTimeoutMs,
  })
}

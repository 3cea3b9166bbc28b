/**
 * Versioned schema migrations for the PostgreSQL engine, applied in order when a store opens.
 *
 * To change the schema, append a migration with the next version; never edit one that has shipped,
 * since databases in the field have already applied it. `schema_migrations` records what ran:
 *
 *   CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)
 *
 * Several nodes may start at once on one database: each migration runs in a transaction that first
 * takes a transaction-scoped advisory lock, so one node applies it while the others wait, then see it
 * recorded and skip it. PostgreSQL's DDL is transactional, so a failing migration leaves nothing.
 */

import type pg from 'pg'
import { LOCK } from './connection.js'

export interface Migration {
  /** 1, 2, 3, …: contiguous and increasing. */
  version: number
  /** What it does, for people reading `schema_migrations` next to this file. */
  name: string
  /** SQL run inside the migration's transaction (several statements, no parameters). */
  up: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'clients, keys, opaque tokens, revocations, users, logins, codes, sessions, refresh tokens',
    up: `
      -- COLLATE "C": ordered and compared byte by byte, as the SQLite engine does, whatever the
      -- database's default collation.
      CREATE TABLE clients (
        client_id           text COLLATE "C" PRIMARY KEY,
        secret_hash         text,
        grants              text[] NOT NULL,
        scopes              text[] NOT NULL,
        redirect_uris       text[] NOT NULL,
        audience            text,
        access_token_format text NOT NULL CHECK (access_token_format IN ('jwt', 'opaque')),
        access_token_ttl    bigint NOT NULL,
        resource_server     boolean NOT NULL,
        created_at          bigint NOT NULL
      );

      CREATE TABLE signing_keys (
        kid             text PRIMARY KEY,
        -- Insertion order, to break ties between keys created in the same second.
        position        bigint GENERATED ALWAYS AS IDENTITY,
        alg             text NOT NULL,
        public_jwk      jsonb NOT NULL,
        private_key     text NOT NULL,
        created_at      bigint NOT NULL,
        activates_at    bigint NOT NULL,
        superseded_at   bigint,
        published_until bigint,
        retired_at      bigint
      );

      CREATE TABLE opaque_tokens (
        hash       text PRIMARY KEY,
        client_id  text NOT NULL,
        sub        text NOT NULL,
        scope      text NOT NULL,
        aud        text NOT NULL,
        jti        text NOT NULL,
        sid        text,
        issued_at  bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX opaque_tokens_expires_at ON opaque_tokens (expires_at);
      CREATE INDEX opaque_tokens_client_id ON opaque_tokens (client_id);
      CREATE INDEX opaque_tokens_sid ON opaque_tokens (sid);

      -- An identity column's sequence never hands a value out twice, even once every row has been
      -- pruned, so a feed reader's cursor stays valid.
      CREATE TABLE revocations (
        seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind       text NOT NULL CHECK (kind IN ('jti', 'token', 'sid', 'sub', 'client', 'kid')),
        value      text NOT NULL,
        client_id  text,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX revocations_kind_value ON revocations (kind, value);
      CREATE INDEX revocations_expires_at ON revocations (expires_at);

      -- At most one row: the highest revocation seq ever deleted by pruning, raised in the prune's
      -- own statement. No row reads as 0 (nothing pruned yet).
      CREATE TABLE revocation_feed (
        id             integer PRIMARY KEY CHECK (id = 1),
        pruned_through bigint NOT NULL
      );

      CREATE TABLE users (
        id            text PRIMARY KEY,
        username      text COLLATE "C" NOT NULL UNIQUE,
        password_hash text NOT NULL,
        created_at    bigint NOT NULL
      );

      CREATE TABLE logins (
        hash       text PRIMARY KEY,
        user_id    text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX logins_user_id ON logins (user_id);
      CREATE INDEX logins_expires_at ON logins (expires_at);

      CREATE TABLE authorization_codes (
        hash           text PRIMARY KEY,
        client_id      text NOT NULL,
        user_id        text NOT NULL,
        redirect_uri   text NOT NULL,
        code_challenge text NOT NULL,
        scope          text NOT NULL,
        login_hash     text,
        created_at     bigint NOT NULL,
        expires_at     bigint NOT NULL,
        used_at        bigint,
        session_id     text
      );
      CREATE INDEX authorization_codes_client_id ON authorization_codes (client_id);
      CREATE INDEX authorization_codes_user_id ON authorization_codes (user_id);
      CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

      -- No foreign keys: a deleted user's sessions stay (revoked) until they expire, and every
      -- engine must behave alike, including those without them.
      CREATE TABLE sessions (
        id              text PRIMARY KEY,
        -- Insertion order, to list sessions created in the same second newest first.
        position        bigint GENERATED ALWAYS AS IDENTITY,
        user_id         text NOT NULL,
        client_id       text NOT NULL,
        scope           text NOT NULL,
        login_hash      text,
        created_at      bigint NOT NULL,
        expires_at      bigint NOT NULL,
        idle_expires_at bigint NOT NULL,
        revoked_at      bigint
      );
      CREATE INDEX sessions_user_id ON sessions (user_id);
      CREATE INDEX sessions_client_id ON sessions (client_id);

      CREATE TABLE refresh_tokens (
        hash             text PRIMARY KEY,
        session_id       text NOT NULL,
        client_id        text NOT NULL,
        user_id          text NOT NULL,
        scope            text NOT NULL,
        issued_at        bigint NOT NULL,
        expires_at       bigint NOT NULL,
        used_at          double precision, -- with its fraction of a second: the grace window is sub-second
        successor_hash   text,
        successor_sealed text
      );
      CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
      CREATE INDEX refresh_tokens_client_id ON refresh_tokens (client_id);
      CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);
      CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
    `,
  },
  {
    version: 2,
    name: 'refresh-token rotation in one round trip',
    // The statements `rotateRefreshToken` ran one by one in a transaction, in the same order, so in
    // the same lock order: the session first, as ending a session does (see ./revoke.ts). A volatile
    // PL/pgSQL function takes a new snapshot per statement under READ COMMITTED, as the transaction
    // did; the session's liveness is read under its lock, so once. Returns the presented token's
    // row: rotated (its successor_hash is n_hash), already used (another successor_hash: a reuse),
    // or no row (unknown, expired, or its session not live).
    up: `
      CREATE FUNCTION latchkey_rotate_refresh(
        p_hash text, p_now double precision, p_successor_sealed text, p_idle_expires_at bigint,
        n_hash text, n_session_id text, n_client_id text, n_user_id text, n_scope text,
        n_issued_at bigint, n_expires_at bigint
      ) RETURNS SETOF refresh_tokens LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        live boolean;
        previous refresh_tokens;
      BEGIN
        -- Locked, the session cannot change until the end: its liveness is read once, here.
        SELECT s.revoked_at IS NULL AND s.expires_at > p_now AND s.idle_expires_at > p_now INTO live
          FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
          WHERE r.hash = p_hash FOR NO KEY UPDATE OF s;
        IF NOT FOUND OR NOT live THEN
          RETURN;
        END IF;
        UPDATE refresh_tokens t
          SET used_at = p_now, successor_hash = n_hash, successor_sealed = p_successor_sealed
          WHERE t.hash = p_hash AND t.used_at IS NULL AND t.expires_at > p_now
          RETURNING t.* INTO previous;
        IF FOUND THEN
          INSERT INTO refresh_tokens
            (hash, session_id, client_id, user_id, scope, issued_at, expires_at)
            VALUES (n_hash, n_session_id, n_client_id, n_user_id, n_scope, n_issued_at, n_expires_at);
          UPDATE sessions SET idle_expires_at = p_idle_expires_at WHERE id = previous.session_id;
          RETURN NEXT previous;
          RETURN;
        END IF;
        RETURN QUERY SELECT t.* FROM refresh_tokens t
          WHERE t.hash = p_hash AND t.used_at IS NOT NULL AND t.expires_at > p_now;
      END
      $fn$;
    `,
  },
  {
    version: 3,
    name: 'users: when their failed logins were last forgiven (user unlock)',
    up: `
      ALTER TABLE users ADD COLUMN logins_unlocked_at bigint;
    `,
  },
  {
    version: 4,
    name: 'clients: auth method, keys, audiences, exchange audiences, PAR; single-use values; pushed requests',
    up: `
      -- Existing clients authenticated by their secret, or were public without one.
      ALTER TABLE clients ADD COLUMN auth_method text
        CHECK (auth_method IS NULL OR auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'));
      UPDATE clients SET auth_method = 'none' WHERE secret_hash IS NULL;
      ALTER TABLE clients ADD COLUMN jwks jsonb;
      ALTER TABLE clients ADD COLUMN jwks_uri text;
      -- One audience becomes a list of them (RFC 8707), the old one first.
      ALTER TABLE clients ADD COLUMN audiences text[] NOT NULL DEFAULT '{}';
      UPDATE clients SET audiences = ARRAY[audience] WHERE audience IS NOT NULL;
      ALTER TABLE clients DROP COLUMN audience;
      ALTER TABLE clients ADD COLUMN exchange_audiences text[] NOT NULL DEFAULT '{}';
      ALTER TABLE clients ADD COLUMN require_par boolean NOT NULL DEFAULT false;

      -- What was used once (assertion and proof jtis), remembered until it expires.
      CREATE TABLE used_once (
        kind       text NOT NULL,
        key        text NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (kind, key)
      );
      CREATE INDEX used_once_expires_at ON used_once (expires_at);

      -- Pushed authorization requests (RFC 9126), by hash of their request_uri.
      CREATE TABLE pushed_requests (
        hash       text PRIMARY KEY,
        client_id  text NOT NULL,
        params     jsonb NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);
    `,
  },
  {
    version: 5,
    name: 'users: profile (OpenID Connect standard claims)',
    up: `
      ALTER TABLE users ADD COLUMN email text;
      ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;
      ALTER TABLE users ADD COLUMN name text;
      ALTER TABLE users ADD COLUMN given_name text;
      ALTER TABLE users ADD COLUMN family_name text;
    `,
  },
  {
    version: 6,
    name: 'clients: allowed browser origins, display name, logo',
    up: `
      ALTER TABLE clients ADD COLUMN allowed_origins text[] NOT NULL DEFAULT '{}';
      ALTER TABLE clients ADD COLUMN display_name text;
      ALTER TABLE clients ADD COLUMN logo_uri text;
    `,
  },
  {
    version: 7,
    name: 'third-party clients and remembered consents',
    up: `
      ALTER TABLE clients ADD COLUMN third_party boolean NOT NULL DEFAULT false;
      CREATE TABLE consents (
        user_id    text NOT NULL,
        client_id  text NOT NULL,
        scope      text[] NOT NULL, -- sorted
        granted_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        PRIMARY KEY (user_id, client_id)
      );
      CREATE INDEX consents_client_id ON consents (client_id);
    `,
  },
  {
    version: 8,
    name: 'logout: post-logout redirect URIs, back-channel logout URI, sessions by login',
    up: `
      ALTER TABLE clients ADD COLUMN post_logout_redirect_uris text[] NOT NULL DEFAULT '{}';
      ALTER TABLE clients ADD COLUMN backchannel_logout_uri text;
      CREATE INDEX sessions_login_hash ON sessions (login_hash);
    `,
  },
  {
    version: 9,
    name: 'OpenID Connect ID tokens: nonce, auth_time and requested claims; client ID-token alg',
    up: `
      ALTER TABLE authorization_codes ADD COLUMN nonce text;
      ALTER TABLE authorization_codes ADD COLUMN auth_time bigint;
      ALTER TABLE authorization_codes ADD COLUMN claims text NOT NULL DEFAULT ''; -- space-separated
      ALTER TABLE sessions ADD COLUMN auth_time bigint;
      ALTER TABLE sessions ADD COLUMN claims text NOT NULL DEFAULT '';
      ALTER TABLE clients ADD COLUMN id_token_signed_response_alg text NOT NULL DEFAULT 'RS256';
    `,
  },
  {
    version: 10,
    name: 'DPoP: key thumbprints of bound opaque tokens, refresh tokens and codes; clients requiring DPoP',
    // The rotation function of migration 2 gets an overload that takes the successor's key thumbprint
    // too (a bound refresh token's successor is bound to the same key). The old one stays, for the
    // nodes of the previous version still running during a rolling upgrade.
    up: `
      ALTER TABLE opaque_tokens ADD COLUMN jkt text;
      ALTER TABLE authorization_codes ADD COLUMN dpop_jkt text;
      ALTER TABLE refresh_tokens ADD COLUMN jkt text;
      ALTER TABLE clients ADD COLUMN require_dpop boolean NOT NULL DEFAULT false;
      CREATE FUNCTION latchkey_rotate_refresh(
        p_hash text, p_now double precision, p_successor_sealed text, p_idle_expires_at bigint,
        n_hash text, n_session_id text, n_client_id text, n_user_id text, n_scope text,
        n_issued_at bigint, n_expires_at bigint, n_jkt text
      ) RETURNS SETOF refresh_tokens LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        live boolean;
        previous refresh_tokens;
      BEGIN
        SELECT s.revoked_at IS NULL AND s.expires_at > p_now AND s.idle_expires_at > p_now INTO live
          FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
          WHERE r.hash = p_hash FOR NO KEY UPDATE OF s;
        IF NOT FOUND OR NOT live THEN
          RETURN;
        END IF;
        UPDATE refresh_tokens t
          SET used_at = p_now, successor_hash = n_hash, successor_sealed = p_successor_sealed
          WHERE t.hash = p_hash AND t.used_at IS NULL AND t.expires_at > p_now
          RETURNING t.* INTO previous;
        IF FOUND THEN
          INSERT INTO refresh_tokens
            (hash, session_id, client_id, user_id, scope, issued_at, expires_at, jkt)
            VALUES (n_hash, n_session_id, n_client_id, n_user_id, n_scope, n_issued_at, n_expires_at,
                    n_jkt);
          UPDATE sessions SET idle_expires_at = p_idle_expires_at WHERE id = previous.session_id;
          RETURN NEXT previous;
          RETURN;
        END IF;
        RETURN QUERY SELECT t.* FROM refresh_tokens t
          WHERE t.hash = p_hash AND t.used_at IS NOT NULL AND t.expires_at > p_now;
      END
      $fn$;
    `,
  },
  {
    version: 11,
    name: 'audit log: operator actions and security events',
    up: `
      CREATE TABLE audit_events (
        id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at      bigint NOT NULL,
        kind    text NOT NULL,
        actor   text NOT NULL,
        subject text,
        address text,
        details jsonb NOT NULL
      );
      CREATE INDEX audit_events_at ON audit_events (at);
    `,
  },
  {
    version: 12,
    name: 'the admin role of users: only they may be granted latchkey:admin',
    up: `
      ALTER TABLE users ADD COLUMN admin boolean NOT NULL DEFAULT false;
    `,
  },
]

// A mistake in the list above is a programmer error: fail when the module loads, not at open.
MIGRATIONS.forEach((migration, index) => {
  if (migration.version !== index + 1) {
    throw new Error(
      `PostgreSQL migration #${index} has version ${migration.version}, expected ${index + 1}`,
    )
  }
})

/** Runs `work` in a transaction that holds the migration lock. */
async function locked<T>(client: pg.ClientBase, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK.migrations])
    const result = await work()
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  }
}

/**
 * Applies every migration the database has not recorded, each in its own transaction under the
 * migration lock, re-checking under the lock that it is still pending. Returns the versions this call
 * applied. `client` is a connection of its own, without the pool's lock and query timeouts: a node
 * waits for as long as another one takes to migrate. Driver errors pass through unmapped (the
 * caller maps them); after one, the connection is in no known state and should be ended.
 *
 * Throws when the database records a version this code does not know (it was migrated by a newer
 * Latchkey), rather than run against a schema it does not understand.
 */
export async function migrate(
  client: pg.ClientBase,
  now: number,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  // Under the lock: two nodes running CREATE TABLE IF NOT EXISTS at once can both pass the check,
  // and the second then fails on the catalog's unique index.
  const current = await locked(client, async () => {
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY, applied_at bigint NOT NULL)`,
    )
    const result = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM schema_migrations',
    )
    return result.rows[0]?.version ?? 0
  })
  const known = migrations.length
  if (current > known) {
    throw new Error(
      `the PostgreSQL database is at schema version ${current}, newer than this Latchkey knows (${known})`,
    )
  }

  const applied: number[] = []
  for (const migration of migrations) {
    if (migration.version <= current) continue
    await locked(client, async () => {
      const recorded = await client.query('SELECT 1 FROM schema_migrations WHERE version = $1', [
        migration.version,
      ])
      if ((recorded.rowCount ?? 0) > 0) return
      await client.query(migration.up)
      await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [
        migration.version,
        now,
      ])
      applied.push(migration.version)
    })
  }
  return applied
}

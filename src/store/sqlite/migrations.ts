/**
 * Versioned schema migrations for the SQLite engine, applied in order when a store opens.
 *
 * To change the schema, append a migration with the next version; never edit one that has shipped,
 * since databases in the field have already applied it. `schema_migrations` records what ran:
 *
 *   CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)
 */

import type Database from 'better-sqlite3'

export interface Migration {
  /** 1, 2, 3, …: contiguous and increasing. */
  version: number
  /** What it does, for people reading `schema_migrations` next to this file. */
  name: string
  /** SQL run inside the migration's transaction. */
  up: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'clients, signing keys, opaque tokens, revocations',
    up: `
      CREATE TABLE clients (
        client_id           TEXT PRIMARY KEY,
        secret_hash         TEXT,
        grants              TEXT NOT NULL, -- JSON array of grant types
        scopes              TEXT NOT NULL, -- JSON array of scopes
        redirect_uris       TEXT NOT NULL, -- JSON array of URIs
        audience            TEXT,
        access_token_format TEXT NOT NULL CHECK (access_token_format IN ('jwt', 'opaque')),
        access_token_ttl    INTEGER NOT NULL,
        resource_server     INTEGER NOT NULL CHECK (resource_server IN (0, 1)),
        created_at          INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE signing_keys (
        kid             TEXT PRIMARY KEY,
        alg             TEXT NOT NULL,
        public_jwk      TEXT NOT NULL, -- JSON
        private_key     TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        activates_at    INTEGER NOT NULL,
        superseded_at   INTEGER,
        published_until INTEGER,
        retired_at      INTEGER
      ) STRICT;

      CREATE TABLE opaque_tokens (
        hash       TEXT PRIMARY KEY,
        client_id  TEXT NOT NULL,
        sub        TEXT NOT NULL,
        scope      TEXT NOT NULL,
        aud        TEXT NOT NULL,
        jti        TEXT NOT NULL,
        sid        TEXT,
        issued_at  INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX opaque_tokens_expires_at ON opaque_tokens (expires_at);
      CREATE INDEX opaque_tokens_client_id ON opaque_tokens (client_id);

      -- AUTOINCREMENT: a seq is never handed out twice, even once every row has been pruned, so a
      -- feed reader's cursor stays valid.
      CREATE TABLE revocations (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        kind       TEXT NOT NULL CHECK (kind IN ('jti', 'token', 'sid', 'sub', 'client', 'kid')),
        value      TEXT NOT NULL,
        client_id  TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX revocations_kind_value ON revocations (kind, value);
      CREATE INDEX revocations_expires_at ON revocations (expires_at);
    `,
  },
  {
    version: 2,
    name: 'users, browser logins, authorization codes, sessions, refresh tokens',
    up: `
      CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE, -- BINARY collation: case-sensitive
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE logins (
        hash       TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX logins_user_id ON logins (user_id);

      CREATE TABLE authorization_codes (
        hash           TEXT PRIMARY KEY,
        client_id      TEXT NOT NULL,
        user_id        TEXT NOT NULL,
        redirect_uri   TEXT NOT NULL,
        code_challenge TEXT NOT NULL,
        scope          TEXT NOT NULL,
        login_hash     TEXT,
        created_at     INTEGER NOT NULL,
        expires_at     INTEGER NOT NULL,
        used_at        INTEGER,
        session_id     TEXT
      ) STRICT;
      CREATE INDEX authorization_codes_client_id ON authorization_codes (client_id);
      CREATE INDEX authorization_codes_user_id ON authorization_codes (user_id);

      -- No foreign keys: a deleted user's sessions stay (revoked) until they expire, and every
      -- engine must behave alike, including those without them.
      CREATE TABLE sessions (
        id              TEXT PRIMARY KEY,
        user_id         TEXT NOT NULL,
        client_id       TEXT NOT NULL,
        scope           TEXT NOT NULL,
        login_hash      TEXT,
        created_at      INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL,
        idle_expires_at INTEGER NOT NULL,
        revoked_at      INTEGER
      ) STRICT;
      CREATE INDEX sessions_user_id ON sessions (user_id);
      CREATE INDEX sessions_client_id ON sessions (client_id);

      CREATE TABLE refresh_tokens (
        hash             TEXT PRIMARY KEY,
        session_id       TEXT NOT NULL,
        client_id        TEXT NOT NULL,
        user_id          TEXT NOT NULL,
        scope            TEXT NOT NULL,
        issued_at        INTEGER NOT NULL,
        expires_at       INTEGER NOT NULL,
        used_at          REAL, -- with its fraction of a second: the grace window is sub-second
        successor_hash   TEXT,
        successor_sealed TEXT
      ) STRICT;
      CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
      CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

      -- Ending a session deletes its opaque access tokens by sid.
      CREATE INDEX opaque_tokens_sid ON opaque_tokens (sid);
    `,
  },
  {
    version: 3,
    name: 'revocation feed: the highest pruned seq',
    up: `
      -- One row: the highest revocation seq ever deleted by pruning. A feed reader whose cursor is
      -- below it may have missed events and must reload the live set. A database that already had
      -- events cannot know what it pruned before this table existed, so it starts at the highest seq
      -- ever handed out: every existing reader reloads once, which is safe.
      CREATE TABLE revocation_feed (
        id             INTEGER PRIMARY KEY CHECK (id = 1),
        pruned_through INTEGER NOT NULL
      ) STRICT;
      INSERT INTO revocation_feed (id, pruned_through)
        VALUES (1, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'revocations'), 0));
    `,
  },
  {
    version: 4,
    name: 'users: when their failed logins were last forgiven (user unlock)',
    up: `
      ALTER TABLE users ADD COLUMN logins_unlocked_at INTEGER;
    `,
  },
  {
    version: 5,
    name: 'clients: auth method, keys, audiences, exchange audiences, PAR; single-use values; pushed requests',
    up: `
      -- Existing clients authenticated by their secret, or were public without one.
      ALTER TABLE clients ADD COLUMN auth_method TEXT
        CHECK (auth_method IS NULL OR auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'));
      UPDATE clients SET auth_method = 'none' WHERE secret_hash IS NULL;
      ALTER TABLE clients ADD COLUMN jwks TEXT; -- JSON Web Key Set
      ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
      -- One audience becomes a list of them (RFC 8707), the old one first.
      ALTER TABLE clients ADD COLUMN audiences TEXT NOT NULL DEFAULT '[]'; -- JSON array
      UPDATE clients SET audiences = json_array(audience) WHERE audience IS NOT NULL;
      ALTER TABLE clients DROP COLUMN audience;
      ALTER TABLE clients ADD COLUMN exchange_audiences TEXT NOT NULL DEFAULT '[]'; -- JSON array
      ALTER TABLE clients ADD COLUMN require_par INTEGER NOT NULL DEFAULT 0
        CHECK (require_par IN (0, 1));

      -- What was used once (assertion and proof jtis), remembered until it expires.
      CREATE TABLE used_once (
        kind       TEXT NOT NULL,
        key        TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (kind, key)
      ) STRICT;
      CREATE INDEX used_once_expires_at ON used_once (expires_at);

      -- Pushed authorization requests (RFC 9126), by hash of their request_uri.
      CREATE TABLE pushed_requests (
        hash       TEXT PRIMARY KEY,
        client_id  TEXT NOT NULL,
        params     TEXT NOT NULL, -- JSON object of strings
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);
    `,
  },
  {
    version: 6,
    name: 'users: profile (OpenID Connect standard claims)',
    up: `
      ALTER TABLE users ADD COLUMN email TEXT;
      ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0
        CHECK (email_verified IN (0, 1));
      ALTER TABLE users ADD COLUMN name TEXT;
      ALTER TABLE users ADD COLUMN given_name TEXT;
      ALTER TABLE users ADD COLUMN family_name TEXT;
    `,
  },
  {
    version: 7,
    name: 'clients: allowed browser origins, display name, logo',
    up: `
      ALTER TABLE clients ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '[]'; -- JSON array
      ALTER TABLE clients ADD COLUMN display_name TEXT;
      ALTER TABLE clients ADD COLUMN logo_uri TEXT;
    `,
  },
  {
    version: 8,
    name: 'third-party clients and remembered consents',
    up: `
      ALTER TABLE clients ADD COLUMN third_party INTEGER NOT NULL DEFAULT 0
        CHECK (third_party IN (0, 1));
      CREATE TABLE consents (
        user_id    TEXT NOT NULL,
        client_id  TEXT NOT NULL,
        scope      TEXT NOT NULL, -- JSON array, sorted
        granted_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, client_id)
      ) STRICT;
      CREATE INDEX consents_client_id ON consents (client_id);
    `,
  },
  {
    version: 9,
    name: 'logout: post-logout redirect URIs, back-channel logout URI, sessions by login',
    up: `
      ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]'; -- JSON array
      ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;
      CREATE INDEX sessions_login_hash ON sessions (login_hash);
    `,
  },
  {
    version: 10,
    name: 'OpenID Connect ID tokens: nonce, auth_time and requested claims; client ID-token alg',
    up: `
      ALTER TABLE authorization_codes ADD COLUMN nonce TEXT;
      ALTER TABLE authorization_codes ADD COLUMN auth_time INTEGER;
      ALTER TABLE authorization_codes ADD COLUMN claims TEXT NOT NULL DEFAULT ''; -- space-separated
      ALTER TABLE sessions ADD COLUMN auth_time INTEGER;
      ALTER TABLE sessions ADD COLUMN claims TEXT NOT NULL DEFAULT '';
      ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'RS256';
    `,
  },
  {
    version: 11,
    name: 'DPoP: key thumbprints of bound opaque tokens, refresh tokens and codes; clients requiring DPoP',
    up: `
      ALTER TABLE opaque_tokens ADD COLUMN jkt TEXT;
      ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
      ALTER TABLE refresh_tokens ADD COLUMN jkt TEXT;
      ALTER TABLE clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0
        CHECK (require_dpop IN (0, 1));
    `,
  },
  {
    version: 12,
    name: 'audit log: operator actions and security events',
    up: `
      CREATE TABLE audit_events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, even after pruning
        at      INTEGER NOT NULL,
        kind    TEXT NOT NULL,
        actor   TEXT NOT NULL,
        subject TEXT,
        address TEXT,
        details TEXT NOT NULL -- JSON object
      ) STRICT;
      CREATE INDEX audit_events_at ON audit_events (at);
    `,
  },
  {
    version: 13,
    name: 'the admin role of users: only they may be granted latchkey:admin',
    up: `
      ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1));
    `,
  },
]

// A mistake in the list above is a programmer error: fail when the module loads, not at open.
MIGRATIONS.forEach((migration, index) => {
  if (migration.version !== index + 1) {
    throw new Error(
      `SQLite migration #${index} has version ${migration.version}, expected ${index + 1}`,
    )
  }
})

/**
 * Applies every migration the database has not recorded, each in its own `BEGIN IMMEDIATE`
 * transaction: the write lock is taken before the check, so when two processes open a fresh file at
 * once, one applies the migration and the other, once it gets the lock, sees it recorded and skips it.
 * Returns the versions this call applied.
 *
 * Throws when the database records a version this code does not know (it was opened by a newer
 * Latchkey), rather than run against a schema it does not understand.
 */
export function migrate(
  db: Database.Database,
  now: number,
  migrations: readonly Migration[] = MIGRATIONS,
): number[] {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)',
  )
  const latest = db.prepare<[], number | null>('SELECT max(version) FROM schema_migrations').pluck()
  const isApplied = db.prepare<[number], number>(
    'SELECT 1 FROM schema_migrations WHERE version = ?',
  )
  const record = db.prepare<[number, number]>(
    'INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)',
  )

  const known = migrations.length
  const current = latest.get() ?? 0
  if (current > known) {
    throw new Error(
      `the SQLite database is at schema version ${current}, newer than this Latchkey knows (${known})`,
    )
  }

  const applied: number[] = []
  for (const migration of migrations) {
    if (migration.version <= current) continue
    const apply = db.transaction(() => {
      if (isApplied.get(migration.version) !== undefined) return
      db.exec(migration.up)
      record.run(migration.version, now)
      applied.push(migration.version)
    })
    apply.immediate()
  }
  return applied
}

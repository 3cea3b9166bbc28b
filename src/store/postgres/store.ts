/**
 * The PostgreSQL store: clients, keys and opaque tokens here; the revocation feed, users, sessions
 * and what ends them in `./feed.ts`, `./users.ts`, `./sessions.ts` and `./revoke.ts`, consents in
 * `./consents.ts`. Every query goes through `PgDatabase` (`./connection.ts`), which maps driver
 * errors to the contract's. Opened by `createPostgresStore` in `./index.ts`, which also shows the
 * schema.
 */

import type {
  AuditEvent,
  AuditFilter,
  AuditInput,
  AuthorizationCodeRecord,
  ClientRecord,
  ConsentRecord,
  LoginRecord,
  OpaqueTokenRecord,
  PushedRequestRecord,
  RefreshTokenRecord,
  RevocationEvent,
  RevocationInput,
  RevocationRef,
  RotateOutcome,
  SessionRecord,
  SigningKeyRecord,
  Store,
  UserProfile,
  UserRecord,
} from '../types.js'
import { LOCK, sql, type PgDatabase, type Queryable } from './connection.js'
import * as feed from './feed.js'
import { listenForRevocations } from './notify.js'
import { PgAudit } from './audit.js'
import { PgConsents } from './consents.js'
import { PgRevoke } from './revoke.js'
import {
  CLIENT_COLUMNS,
  CLIENT_COLUMN_COUNT,
  CLIENT_UPDATE_COLUMNS,
  KEY_COLUMNS,
  TOKEN_COLUMNS,
  clientFromRow,
  clientValues,
  keyFromRow,
  keyValues,
  placeholders,
  tokenFromRow,
  tokenValues,
  type ClientRow,
  type KeyRow,
  type TokenRow,
} from './rows.js'
import { PgSessions, type RedeemResult } from './sessions.js'
import { PgSingleUse } from './single_use.js'
import { PgUsers } from './users.js'

const INSERT_CLIENT = sql(
  'insert_client',
  `INSERT INTO clients (${CLIENT_COLUMNS}) VALUES (${placeholders(CLIENT_COLUMN_COUNT)})`,
)
const UPDATE_CLIENT = sql(
  'update_client',
  `UPDATE clients SET ${CLIENT_UPDATE_COLUMNS.map((c, i) => `${c} = $${i + 2}`).join(', ')}
   WHERE client_id = $1`,
)
const SELECT_CLIENT = sql(
  'select_client',
  `SELECT ${CLIENT_COLUMNS} FROM clients WHERE client_id = $1`,
)
const SELECT_CLIENTS = sql(
  'select_clients',
  `SELECT ${CLIENT_COLUMNS} FROM clients ORDER BY client_id`,
)

const INSERT_KEY = sql(
  'insert_key',
  `INSERT INTO signing_keys (${KEY_COLUMNS}) VALUES (${placeholders(9)})`,
)
const LOCK_KEYS = sql('lock_keys', `SELECT pg_advisory_xact_lock(${LOCK.keys})`)
/** Runs after the keys lock is taken (a new snapshot). */
const SIGNING_KEY_EXISTS = sql(
  'signing_key_exists',
  `SELECT 1 FROM signing_keys WHERE alg = $2 AND retired_at IS NULL AND activates_at <= $1
     AND (superseded_at IS NULL OR superseded_at > $1)`,
)
// Rotation (`KeyStore.insertNewestKey`): keys of its alg added before $1 (by position) that would
// still sign at its activation ($2) stop signing then.
const SUPERSEDE_OLDER_KEYS = sql(
  'supersede_older_keys',
  `UPDATE signing_keys o SET superseded_at = $2, published_until = $2 + $3
   FROM signing_keys n
   WHERE n.kid = $1 AND o.alg = n.alg AND o.position < n.position
     AND o.retired_at IS NULL AND (o.superseded_at IS NULL OR o.superseded_at > $2)`,
)
const SELECT_KEYS = sql('select_keys', `SELECT ${KEY_COLUMNS} FROM signing_keys ORDER BY position`)
const SELECT_KEY = sql('select_key', `SELECT ${KEY_COLUMNS} FROM signing_keys WHERE kid = $1`)
const RETIRE_KEY = sql(
  'retire_key',
  'UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL',
)
// What `KeyStore.retireKey` recomputes: keys of the retired key's ($3) alg not yet superseded at $1
// take the earliest activation of the unretired keys of their alg added after them.
const RESUPERSEDE_KEYS = sql(
  'resupersede_keys',
  `UPDATE signing_keys k SET superseded_at = next.at, published_until = next.at + $2
   FROM (SELECT o.kid, (SELECT min(n.activates_at) FROM signing_keys n
           WHERE n.retired_at IS NULL AND n.alg = o.alg AND n.position > o.position) AS at
         FROM signing_keys o) next
   WHERE next.kid = k.kid AND k.retired_at IS NULL AND k.superseded_at > $1
     AND k.alg = (SELECT r.alg FROM signing_keys r WHERE r.kid = $3)`,
)

const INSERT_TOKEN = sql(
  'insert_token',
  `INSERT INTO opaque_tokens (${TOKEN_COLUMNS}) VALUES (${placeholders(10)})`,
)
// Live while now < expiresAt, like a JWT's `exp` (RFC 7519 §4.1.4: "on or after which the JWT MUST
// NOT be accepted").
const SELECT_TOKEN = sql(
  'select_token',
  `SELECT ${TOKEN_COLUMNS} FROM opaque_tokens WHERE hash = $1 AND expires_at > $2::float8`,
)
const PRUNE_TOKENS = sql(
  'prune_tokens',
  'DELETE FROM opaque_tokens WHERE expires_at < ceil($1::float8)::bigint',
)

export interface PgStoreOptions {
  /** How long `ping` waits for an answer, in milliseconds. */
  pingTimeoutMs: number
  /** The database, for the connection that listens for revocations (`watchRevocations`). */
  url: string
  connectTimeoutMs: number
}

export class PostgresStore implements Store {
  readonly engine = 'postgres'
  private readonly users
  private readonly consents
  private readonly sessions
  private readonly revoke
  private readonly singleUse
  private readonly audit

  constructor(
    private readonly db: PgDatabase,
    private readonly options: PgStoreOptions,
  ) {
    this.users = new PgUsers(db)
    this.consents = new PgConsents(db)
    this.sessions = new PgSessions(db)
    this.revoke = new PgRevoke(db)
    this.singleUse = new PgSingleUse(db)
    this.audit = new PgAudit(db)
  }

  async createClient(client: ClientRecord): Promise<void> {
    await this.db.count(INSERT_CLIENT, clientValues(client))
  }

  async updateClient(client: ClientRecord): Promise<boolean> {
    return (await this.db.count(UPDATE_CLIENT, clientValues(client))) > 0
  }

  async getClient(clientId: string): Promise<ClientRecord | null> {
    const [row] = await this.db.rows<ClientRow>(SELECT_CLIENT, [clientId])
    return row === undefined ? null : clientFromRow(row)
  }

  async listClients(): Promise<ClientRecord[]> {
    return (await this.db.rows<ClientRow>(SELECT_CLIENTS, [])).map(clientFromRow)
  }

  deleteClient(clientId: string, event: RevocationInput): Promise<boolean> {
    return this.revoke.deleteClient(clientId, event)
  }

  async insertKey(key: SigningKeyRecord): Promise<void> {
    await this.db.count(INSERT_KEY, keyValues(key))
  }

  insertNewestKey(key: SigningKeyRecord, keepFor: number): Promise<void> {
    return this.db.transaction(async (tx) => {
      await tx.rows(LOCK_KEYS, [])
      await this.insertNewest(tx, key, keepFor)
    })
  }

  insertKeyUnlessSigning(key: SigningKeyRecord, now: number, keepFor: number): Promise<boolean> {
    // READ COMMITTED takes a snapshot per statement: the lock comes first, in its own statement, so
    // the check sees a key committed by a node that held the lock before us. A single statement
    // taking the lock in a subquery would check against a snapshot older than the lock.
    return this.db.transaction(async (tx) => {
      await tx.rows(LOCK_KEYS, [])
      if ((await tx.rows(SIGNING_KEY_EXISTS, [now, key.alg])).length > 0) return false
      await this.insertNewest(tx, key, keepFor)
      return true
    })
  }

  private async insertNewest(tx: Queryable, key: SigningKeyRecord, keepFor: number): Promise<void> {
    await tx.count(INSERT_KEY, keyValues(key))
    await tx.count(SUPERSEDE_OLDER_KEYS, [key.kid, key.activatesAt, keepFor])
  }

  async listKeys(): Promise<SigningKeyRecord[]> {
    return (await this.db.rows<KeyRow>(SELECT_KEYS, [])).map(keyFromRow)
  }

  async getKey(kid: string): Promise<SigningKeyRecord | null> {
    const [row] = await this.db.rows<KeyRow>(SELECT_KEY, [kid])
    return row === undefined ? null : keyFromRow(row)
  }

  retireKey(kid: string, at: number, keepFor: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.rows(LOCK_KEYS, [])
      if ((await tx.count(RETIRE_KEY, [kid, at])) === 0) return false
      await tx.count(RESUPERSEDE_KEYS, [at, keepFor, kid])
      return true
    })
  }

  async saveToken(token: OpaqueTokenRecord): Promise<void> {
    await this.db.count(INSERT_TOKEN, tokenValues(token))
  }

  async findToken(hash: string, now: number): Promise<OpaqueTokenRecord | null> {
    const [row] = await this.db.rows<TokenRow>(SELECT_TOKEN, [hash, now])
    return row === undefined ? null : tokenFromRow(row)
  }

  revokeToken(hash: string, event: RevocationInput): Promise<boolean> {
    return this.revoke.revokeToken(hash, event)
  }

  async pruneTokens(now: number): Promise<number> {
    return (await this.db.count(PRUNE_TOKENS, [now])) + (await this.singleUse.prune(now))
  }

  useOnce(kind: string, key: string, expiresAt: number, now: number): Promise<boolean> {
    return this.singleUse.useOnce(kind, key, expiresAt, now)
  }

  putPushed(record: PushedRequestRecord): Promise<void> {
    return this.singleUse.putPushed(record)
  }

  takePushed(hash: string, clientId: string, now: number): Promise<Record<string, string> | null> {
    return this.singleUse.takePushed(hash, clientId, now)
  }

  appendRevocation(event: RevocationInput): Promise<number> {
    return feed.appendRevocation(this.db, event)
  }

  isRevoked(refs: RevocationRef[], issuedAt: number, now: number): Promise<boolean> {
    return feed.isRevoked(this.db, refs, issuedAt, now)
  }

  listRevocations(after: number, limit: number): Promise<RevocationEvent[]> {
    return feed.listRevocations(this.db, after, limit)
  }

  watchRevocations(onAppend: () => void): () => Promise<void> {
    return listenForRevocations(this.options.url, onAppend, this.options.connectTimeoutMs)
  }

  pruneRevocations(now: number): Promise<number> {
    return feed.pruneRevocations(this.db, now)
  }

  prunedThrough(): Promise<number> {
    return feed.prunedThrough(this.db)
  }

  createUser(user: UserRecord): Promise<void> {
    return this.users.create(user)
  }

  getUser(id: string): Promise<UserRecord | null> {
    return this.users.get(id)
  }

  getUserByUsername(username: string): Promise<UserRecord | null> {
    return this.users.getByUsername(username)
  }

  listUsers(): Promise<UserRecord[]> {
    return this.users.list()
  }

  setPasswordHash(id: string, passwordHash: string): Promise<boolean> {
    return this.users.setPasswordHash(id, passwordHash)
  }

  setUserProfile(id: string, profile: UserProfile): Promise<boolean> {
    return this.users.setProfile(id, profile)
  }

  setUserAdmin(id: string, admin: boolean): Promise<boolean> {
    return this.users.setAdmin(id, admin)
  }

  unlockLogins(id: string, at: number): Promise<boolean> {
    return this.users.unlockLogins(id, at)
  }

  getLoginsUnlockedAt(username: string): Promise<number | null> {
    return this.users.getLoginsUnlockedAt(username)
  }

  deleteUser(id: string, event: RevocationInput): Promise<boolean> {
    return this.revoke.deleteUser(id, event)
  }

  createLogin(login: LoginRecord): Promise<void> {
    return this.sessions.createLogin(login)
  }

  getLogin(hash: string, now: number): Promise<LoginRecord | null> {
    return this.sessions.getLogin(hash, now)
  }

  deleteLogin(hash: string): Promise<boolean> {
    return this.sessions.deleteLogin(hash)
  }

  saveCode(code: AuthorizationCodeRecord): Promise<void> {
    return this.sessions.saveCode(code)
  }

  redeemCode(hash: string, now: number): Promise<RedeemResult | null> {
    return this.sessions.redeemCode(hash, now)
  }

  createSession(
    session: SessionRecord,
    refresh: RefreshTokenRecord | null,
    codeHash: string | null,
  ): Promise<void> {
    return this.sessions.createSession(session, refresh, codeHash)
  }

  getSession(id: string): Promise<SessionRecord | null> {
    return this.sessions.getSession(id)
  }

  listSessions(
    filter: { userId?: string; clientId?: string },
    now: number,
  ): Promise<SessionRecord[]> {
    return this.sessions.listSessions(filter, now)
  }

  rotateRefreshToken(
    hash: string,
    successor: RefreshTokenRecord,
    successorSealed: string,
    idleExpiresAt: number,
    now: number,
  ): Promise<RotateOutcome> {
    return this.sessions.rotateRefreshToken(hash, successor, successorSealed, idleExpiresAt, now)
  }

  getRefreshToken(hash: string, now: number): Promise<RefreshTokenRecord | null> {
    return this.sessions.getRefreshToken(hash, now)
  }

  revokeSession(id: string, event: RevocationInput): Promise<boolean> {
    return this.revoke.revokeSession(id, event)
  }

  endLogin(
    hash: string,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): Promise<string[]> {
    return this.revoke.endLogin(hash, now, eventFor)
  }

  revokeUserSessions(
    userId: string,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): Promise<string[]> {
    return this.revoke.revokeUserSessions(userId, now, eventFor)
  }

  pruneSessions(now: number): Promise<number> {
    return this.sessions.pruneSessions(now)
  }

  grantConsent(userId: string, clientId: string, scope: string[], at: number): Promise<void> {
    return this.consents.grant(userId, clientId, scope, at)
  }

  getConsent(userId: string, clientId: string): Promise<ConsentRecord | null> {
    return this.consents.get(userId, clientId)
  }

  listConsents(filter: { userId?: string; clientId?: string }): Promise<ConsentRecord[]> {
    return this.consents.list(filter)
  }

  revokeConsent(
    userId: string,
    clientId: string | null,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): Promise<{ clients: string[]; sessions: string[] }> {
    return this.revoke.revokeConsent(userId, clientId, now, eventFor)
  }

  appendAudit(event: AuditInput): Promise<number> {
    return this.audit.append(event)
  }

  listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.audit.list(filter)
  }

  pruneAudit(before: number): Promise<number> {
    return this.audit.pruneBefore(before)
  }

  ping(): Promise<void> {
    return this.db.ping(this.options.pingTimeoutMs)
  }

  close(): Promise<void> {
    return this.db.close()
  }
}

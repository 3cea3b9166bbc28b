/**
 * The SQLite store: clients, keys, opaque tokens and revocations here; users, sessions and what ends
 * them in `./users.ts`, `./sessions.ts` and `./revoke.ts`, consents in `./consents.ts`. Every public method runs its work
 * synchronously through `attempt`, which maps driver errors to the contract's. Opened by
 * `createSqliteStore` in `./index.ts`, which also shows the schema.
 */

import type Database from 'better-sqlite3'
import { StoreUnavailableError } from '../../errors.js'
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
import { CLIENT_COLUMNS, CLIENT_COLUMN_COUNT, CLIENT_UPDATE_COLUMNS } from '../client_rows.js'
import { toStoreError } from './connection.js'
import {
  clientFromRow,
  clientParams,
  keyFromRow,
  keyParams,
  revocationFromRow,
  revocationParams,
  tokenParams,
  type ClientRow,
  type KeyRow,
  type Params,
  type RevocationRow,
} from './rows.js'
import { SqliteAudit } from './audit.js'
import { SqliteConsents } from './consents.js'
import { SqliteRevoke } from './revoke.js'
import { SqliteSessions, type RedeemResult } from './sessions.js'
import { SqliteSingleUse } from './single_use.js'
import { SqliteUsers } from './users.js'

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

const TOKEN_COLUMNS = 'hash, client_id, sub, scope, aud, jti, sid, issued_at, expires_at, jkt'
const REVOCATION_COLUMNS = 'seq, kind, value, client_id, created_at, expires_at'

/** A row of `opaque_tokens` read with `.raw()`, in `TOKEN_COLUMNS` order. */
type TokenTuple = [
  hash: string,
  clientId: string,
  sub: string,
  scope: string,
  aud: string,
  jti: string,
  sid: string | null,
  issuedAt: number,
  expiresAt: number,
  jkt: string | null,
]

/**
 * The record of a token tuple. Arrays rather than row objects: better-sqlite3 builds a row object with
 * named properties for every row, about a third of the cost of a token lookup (docs/PERFORMANCE.md, "Lean SQLite reads").
 */
function tokenFromTuple(t: TokenTuple): OpaqueTokenRecord {
  return {
    hash: t[0],
    clientId: t[1],
    sub: t[2],
    scope: t[3],
    aud: t[4],
    jti: t[5],
    sid: t[6],
    issuedAt: t[7],
    expiresAt: t[8],
    jkt: t[9],
  }
}

export class SqliteStore implements Store {
  readonly engine = 'sqlite'
  private closed = false
  /** `isRevoked` statements by number of refs: 1 to 6 prepared at open, longer lists on first use. */
  private readonly isRevokedByCount = new Map<number, Database.Statement<Params, 1>>()

  // Ordinary reads and writes: the main connection (`synchronous = NORMAL`).
  private readonly insertClient
  private readonly updateClientRow
  private readonly selectClient
  private readonly selectClients
  private readonly insertKeyRow
  private readonly insertNewestKeyTx
  private readonly insertKeyUnlessSigningTx
  private readonly selectKeys
  private readonly selectKey
  private readonly insertToken
  private readonly selectToken
  private readonly deleteExpiredTokens
  private readonly selectRevocations
  private readonly pruneRevocationsTx
  private readonly selectPrunedThrough
  private readonly selectOne

  // Writes that take access away: the durable connection (`synchronous = FULL`).
  private readonly insertRevocation
  private readonly retireKeyTx
  private readonly revokeTokenTx

  // Users, logins, codes, sessions, refresh tokens (`./users.ts`, `./sessions.ts`, `./revoke.ts`).
  private readonly users
  private readonly consents
  private readonly sessions
  private readonly revoke
  private readonly singleUse
  private readonly audit

  constructor(
    private readonly main: Database.Database,
    private readonly durable: Database.Database,
  ) {
    this.insertClient = main.prepare<Params>(
      `INSERT INTO clients (${CLIENT_COLUMNS})
       VALUES (${Array.from({ length: CLIENT_COLUMN_COUNT }, () => '?').join(', ')})`,
    )
    this.updateClientRow = main.prepare<Params>(
      `UPDATE clients SET ${CLIENT_UPDATE_COLUMNS.map((c) => `${c} = ?`).join(', ')}
       WHERE client_id = ?`,
    )
    this.selectClient = main.prepare<[string], ClientRow>(
      `SELECT ${CLIENT_COLUMNS} FROM clients WHERE client_id = ?`,
    )
    this.selectClients = main.prepare<[], ClientRow>(
      `SELECT ${CLIENT_COLUMNS} FROM clients ORDER BY client_id`,
    )

    this.insertKeyRow = main.prepare<Params>(
      `INSERT INTO signing_keys (kid, alg, public_jwk, private_key, created_at, activates_at,
         superseded_at, published_until, retired_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    // Rotation (`KeyStore.insertNewestKey`): keys of its alg added before `kid` (by rowid) that would
    // still sign at its activation stop signing then.
    const supersedeOlderKeys = main.prepare<[number, number, number, string, string]>(
      `UPDATE signing_keys SET superseded_at = ?, published_until = ?
       WHERE retired_at IS NULL AND (superseded_at IS NULL OR superseded_at > ?) AND alg = ?
         AND rowid < (SELECT rowid FROM signing_keys WHERE kid = ?)`,
    )
    const insertNewest = (key: SigningKeyRecord, keepFor: number): void => {
      this.insertKeyRow.run(...keyParams(key))
      const at = key.activatesAt
      supersedeOlderKeys.run(at, at + keepFor, at, key.alg, key.kid)
    }
    this.insertNewestKeyTx = main.transaction(insertNewest)
    const signingKeyExists = main
      .prepare<[string, number, number], 1>(
        `SELECT 1 FROM signing_keys WHERE alg = ? AND retired_at IS NULL AND activates_at <= ?
           AND (superseded_at IS NULL OR superseded_at > ?)`,
      )
      .pluck()
    // Run IMMEDIATE: the write lock is taken before the check, so two processes on one file cannot
    // both see no signing key of an alg and both add one.
    this.insertKeyUnlessSigningTx = main.transaction(
      (key: SigningKeyRecord, now: number, keepFor: number): boolean => {
        if (signingKeyExists.get(key.alg, now, now) !== undefined) return false
        insertNewest(key, keepFor)
        return true
      },
    )
    this.selectKeys = main.prepare<[], KeyRow>('SELECT * FROM signing_keys ORDER BY rowid')
    this.selectKey = main.prepare<[string], KeyRow>('SELECT * FROM signing_keys WHERE kid = ?')

    this.insertToken = main.prepare<Params>(
      `INSERT INTO opaque_tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.selectToken = main
      .prepare<[string, number], TokenTuple>(
        `SELECT ${TOKEN_COLUMNS} FROM opaque_tokens WHERE hash = ? AND expires_at > ?`,
      )
      .raw()
    this.deleteExpiredTokens = main.prepare<[number]>(
      'DELETE FROM opaque_tokens WHERE expires_at < ?',
    )

    this.selectRevocations = main.prepare<[number, number], RevocationRow>(
      `SELECT ${REVOCATION_COLUMNS} FROM revocations WHERE seq > ? ORDER BY seq LIMIT ?`,
    )
    const deleteExpiredRevocations = main.prepare<[number], { seq: number }>(
      'DELETE FROM revocations WHERE expires_at < ? RETURNING seq',
    )
    const raisePrunedThrough = main.prepare<[number]>(
      'UPDATE revocation_feed SET pruned_through = max(pruned_through, ?) WHERE id = 1',
    )
    // The delete and the high-water mark move together: a reader never sees events gone while
    // `prunedThrough` still says nothing was pruned.
    this.pruneRevocationsTx = main.transaction((now: number): number => {
      const deleted = deleteExpiredRevocations.all(now)
      if (deleted.length === 0) return 0
      let highest = 0
      for (const row of deleted) if (row.seq > highest) highest = row.seq
      raisePrunedThrough.run(highest)
      return deleted.length
    })
    this.selectPrunedThrough = main
      .prepare<[], number>('SELECT pruned_through FROM revocation_feed WHERE id = 1')
      .pluck()
    this.selectOne = main.prepare<[], 1>('SELECT 1').pluck()
    for (let count = 1; count <= 6; count++) {
      this.isRevokedByCount.set(count, main.prepare<Params, 1>(isRevokedSql(count)))
    }

    const insertRevocation = durable.prepare<Params>(
      `INSERT INTO revocations (kind, value, client_id, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?)`,
    )
    this.insertRevocation = insertRevocation
    const retireKeyRow = durable.prepare<[number, string]>(
      'UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL',
    )
    // What `KeyStore.retireKey` recomputes: keys of the retired key's alg not yet superseded at `at`
    // take the earliest activation of the unretired keys of their alg added after them.
    const resupersede = durable.prepare<[number, number, string]>(
      `UPDATE signing_keys SET
         superseded_at = (SELECT min(n.activates_at) FROM signing_keys n
           WHERE n.retired_at IS NULL AND n.alg = signing_keys.alg
             AND n.rowid > signing_keys.rowid),
         published_until = (SELECT min(n.activates_at) FROM signing_keys n
           WHERE n.retired_at IS NULL AND n.alg = signing_keys.alg
             AND n.rowid > signing_keys.rowid) + ?
       WHERE retired_at IS NULL AND superseded_at > ?
         AND alg = (SELECT alg FROM signing_keys WHERE kid = ?)`,
    )
    this.retireKeyTx = durable.transaction((kid: string, at: number, keepFor: number): boolean => {
      if (retireKeyRow.run(at, kid).changes === 0) return false
      resupersede.run(keepFor, at, kid)
      return true
    })
    const deleteToken = durable.prepare<[string]>('DELETE FROM opaque_tokens WHERE hash = ?')
    this.revokeTokenTx = durable.transaction((hash: string, event: RevocationInput): boolean => {
      if (deleteToken.run(hash).changes === 0) return false
      insertRevocation.run(...revocationParams(event))
      return true
    })

    this.users = new SqliteUsers(main, durable)
    this.consents = new SqliteConsents(main)
    this.sessions = new SqliteSessions(main, durable)
    this.revoke = new SqliteRevoke(durable)
    this.singleUse = new SqliteSingleUse(main)
    this.audit = new SqliteAudit(main)
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

  updateClient(client: ClientRecord): Promise<boolean> {
    return this.attempt(() => {
      // `client_id` is the first column: the others are set, it is matched.
      const params = clientParams(client).slice(1)
      return this.updateClientRow.run(...params, client.clientId).changes > 0
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

  deleteClient(clientId: string, event: RevocationInput): Promise<boolean> {
    return this.attempt(() => this.revoke.deleteClient(clientId, event))
  }

  insertKey(key: SigningKeyRecord): Promise<void> {
    return this.attempt(() => {
      this.insertKeyRow.run(...keyParams(key))
    })
  }

  insertNewestKey(key: SigningKeyRecord, keepFor: number): Promise<void> {
    return this.attempt(() => this.insertNewestKeyTx.immediate(key, keepFor))
  }

  insertKeyUnlessSigning(key: SigningKeyRecord, now: number, keepFor: number): Promise<boolean> {
    return this.attempt(() => this.insertKeyUnlessSigningTx.immediate(key, now, keepFor))
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

  retireKey(kid: string, at: number, keepFor: number): Promise<boolean> {
    return this.attempt(() => this.retireKeyTx.immediate(kid, at, keepFor))
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
      const tuple = this.selectToken.get(hash, now)
      return tuple === undefined ? null : tokenFromTuple(tuple)
    })
  }

  revokeToken(hash: string, event: RevocationInput): Promise<boolean> {
    return this.attempt(() => this.revokeTokenTx.immediate(hash, event))
  }

  pruneTokens(now: number): Promise<number> {
    return this.attempt(() => this.deleteExpiredTokens.run(now).changes + this.singleUse.prune(now))
  }

  useOnce(kind: string, key: string, expiresAt: number, now: number): Promise<boolean> {
    return this.attempt(() => this.singleUse.useOnce(kind, key, expiresAt, now))
  }

  putPushed(record: PushedRequestRecord): Promise<void> {
    return this.attempt(() => this.singleUse.putPushed(record))
  }

  takePushed(hash: string, clientId: string, now: number): Promise<Record<string, string> | null> {
    return this.attempt(() => this.singleUse.takePushed(hash, clientId, now))
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
    return this.attempt(() => this.pruneRevocationsTx.immediate(now))
  }

  prunedThrough(): Promise<number> {
    return this.attempt(() => this.selectPrunedThrough.get() ?? 0)
  }

  createUser(user: UserRecord): Promise<void> {
    return this.attempt(() => this.users.create(user))
  }

  getUser(id: string): Promise<UserRecord | null> {
    return this.attempt(() => this.users.get(id))
  }

  getUserByUsername(username: string): Promise<UserRecord | null> {
    return this.attempt(() => this.users.getByUsername(username))
  }

  listUsers(): Promise<UserRecord[]> {
    return this.attempt(() => this.users.list())
  }

  setPasswordHash(id: string, passwordHash: string): Promise<boolean> {
    return this.attempt(() => this.users.setPasswordHash(id, passwordHash))
  }

  setUserProfile(id: string, profile: UserProfile): Promise<boolean> {
    return this.attempt(() => this.users.setProfile(id, profile))
  }

  setUserAdmin(id: string, admin: boolean): Promise<boolean> {
    return this.attempt(() => this.users.setAdmin(id, admin))
  }

  unlockLogins(id: string, at: number): Promise<boolean> {
    return this.attempt(() => this.users.unlockLogins(id, at))
  }

  getLoginsUnlockedAt(username: string): Promise<number | null> {
    return this.attempt(() => this.users.getLoginsUnlockedAt(username))
  }

  deleteUser(id: string, event: RevocationInput): Promise<boolean> {
    return this.attempt(() => this.revoke.deleteUser(id, event))
  }

  createLogin(login: LoginRecord): Promise<void> {
    return this.attempt(() => this.sessions.createLogin(login))
  }

  getLogin(hash: string, now: number): Promise<LoginRecord | null> {
    return this.attempt(() => this.sessions.getLogin(hash, now))
  }

  deleteLogin(hash: string): Promise<boolean> {
    return this.attempt(() => this.sessions.deleteLogin(hash))
  }

  saveCode(code: AuthorizationCodeRecord): Promise<void> {
    return this.attempt(() => this.sessions.saveCode(code))
  }

  redeemCode(hash: string, now: number): Promise<RedeemResult | null> {
    return this.attempt(() => this.sessions.redeemCode(hash, now))
  }

  createSession(
    session: SessionRecord,
    refresh: RefreshTokenRecord | null,
    codeHash: string | null,
  ): Promise<void> {
    return this.attempt(() => this.sessions.createSession(session, refresh, codeHash))
  }

  getSession(id: string): Promise<SessionRecord | null> {
    return this.attempt(() => this.sessions.getSession(id))
  }

  listSessions(
    filter: { userId?: string; clientId?: string },
    now: number,
  ): Promise<SessionRecord[]> {
    return this.attempt(() => this.sessions.listSessions(filter, now))
  }

  rotateRefreshToken(
    hash: string,
    successor: RefreshTokenRecord,
    successorSealed: string,
    idleExpiresAt: number,
    now: number,
  ): Promise<RotateOutcome> {
    return this.attempt(() =>
      this.sessions.rotateRefreshToken(hash, successor, successorSealed, idleExpiresAt, now),
    )
  }

  getRefreshToken(hash: string, now: number): Promise<RefreshTokenRecord | null> {
    return this.attempt(() => this.sessions.getRefreshToken(hash, now))
  }

  revokeSession(id: string, event: RevocationInput): Promise<boolean> {
    return this.attempt(() => this.revoke.revokeSession(id, event))
  }

  endLogin(
    hash: string,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): Promise<string[]> {
    return this.attempt(() => this.revoke.endLogin(hash, now, eventFor))
  }

  revokeUserSessions(
    userId: string,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): Promise<string[]> {
    return this.attempt(() => this.revoke.revokeUserSessions(userId, now, eventFor))
  }

  pruneSessions(now: number): Promise<number> {
    return this.attempt(() => this.sessions.pruneSessions(now))
  }

  grantConsent(userId: string, clientId: string, scope: string[], at: number): Promise<void> {
    return this.attempt(() => this.consents.grant(userId, clientId, scope, at))
  }

  getConsent(userId: string, clientId: string): Promise<ConsentRecord | null> {
    return this.attempt(() => this.consents.get(userId, clientId))
  }

  listConsents(filter: { userId?: string; clientId?: string }): Promise<ConsentRecord[]> {
    return this.attempt(() => this.consents.list(filter))
  }

  revokeConsent(
    userId: string,
    clientId: string | null,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): Promise<{ clients: string[]; sessions: string[] }> {
    return this.attempt(() => this.revoke.revokeConsent(userId, clientId, now, eventFor))
  }

  appendAudit(event: AuditInput): Promise<number> {
    return this.attempt(() => this.audit.append(event))
  }

  listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.attempt(() => this.audit.list(filter))
  }

  pruneAudit(before: number): Promise<number> {
    return this.attempt(() => this.audit.pruneBefore(before))
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

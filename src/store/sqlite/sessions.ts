/**
 * Browser logins, authorization codes, sessions and refresh-token rotation in the SQLite engine
 * (tables `logins`, `authorization_codes`, `sessions`, `refresh_tokens`, see `./index.ts`).
 * Synchronous: `SqliteStore` wraps each call and maps driver errors. Writes that end sessions are in
 * `./revoke.ts`.
 *
 * Liveness, as for opaque tokens: a row is live while `now < expires_at`; a session also needs
 * `now < idle_expires_at` and `revoked_at IS NULL`. Pruning deletes what expired strictly before `now`.
 */

import type Database from 'better-sqlite3'
import type {
  AuthorizationCodeRecord,
  LoginRecord,
  RefreshTokenRecord,
  RotateOutcome,
  SessionRecord,
} from '../types.js'
import {
  CODE_COLUMNS,
  LOGIN_COLUMNS,
  REFRESH_COLUMNS,
  SESSION_COLUMNS,
  codeFromRow,
  codeParams,
  loginFromRow,
  loginParams,
  refreshFromRow,
  refreshParams,
  sessionFromRow,
  sessionParams,
  type CodeRow,
  type LoginRow,
  type Params,
  type RefreshRow,
  type SessionRow,
} from './rows.js'

/** A session is live at `now`: not revoked, before its absolute and its idle expiry. */
const SESSION_LIVE = 'revoked_at IS NULL AND expires_at > @now AND idle_expires_at > @now'

/** A refresh token (used or not) is live at `now`: unexpired, and its session live. */
const REFRESH_LIVE = `refresh_tokens.expires_at > @now AND EXISTS (
  SELECT 1 FROM sessions s WHERE s.id = refresh_tokens.session_id
    AND s.revoked_at IS NULL AND s.expires_at > @now AND s.idle_expires_at > @now)`

export type RedeemResult = { outcome: 'redeemed' | 'replayed'; code: AuthorizationCodeRecord }

export class SqliteSessions {
  private readonly insertLogin
  private readonly selectLogin
  private readonly deleteLoginRow
  private readonly insertCode
  private readonly markCodeUsed
  private readonly selectUnexpiredCode
  private readonly selectSession
  private readonly selectLiveSessions
  private readonly createSessionTx
  private readonly selectRefresh
  private readonly rotateTx
  private readonly pruneTx

  /** `main` for ordinary reads and writes, `durable` (`synchronous = FULL`) for ending a login. */
  constructor(main: Database.Database, durable: Database.Database) {
    this.insertLogin = main.prepare<Params>(
      `INSERT INTO logins (${LOGIN_COLUMNS}) VALUES (?, ?, ?, ?)`,
    )
    this.selectLogin = main.prepare<[string, number], LoginRow>(
      `SELECT ${LOGIN_COLUMNS} FROM logins WHERE hash = ? AND expires_at > ?`,
    )
    // Signing out takes access away: durable, like a revocation.
    this.deleteLoginRow = durable.prepare<[string]>('DELETE FROM logins WHERE hash = ?')

    this.insertCode = main.prepare<Params>(
      `INSERT INTO authorization_codes (${CODE_COLUMNS})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    // RFC 6749 §4.1.2: a code MUST NOT be used more than once. One conditional statement, so of
    // concurrent redemptions (any connection, any process) exactly one matches the row.
    this.markCodeUsed = main.prepare<[number, string, number], CodeRow>(
      `UPDATE authorization_codes SET used_at = ?
       WHERE hash = ? AND used_at IS NULL AND expires_at > ?
       RETURNING ${CODE_COLUMNS}`,
    )
    this.selectUnexpiredCode = main.prepare<[string, number], CodeRow>(
      `SELECT ${CODE_COLUMNS} FROM authorization_codes WHERE hash = ? AND expires_at > ?`,
    )

    this.selectSession = main.prepare<[string], SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ?`,
    )
    // One statement per filter, so each can use its index. `rowid DESC` breaks ties between
    // sessions created in the same second: the later insert first.
    const live = (where: string) =>
      main.prepare<{ now: number; userId?: string; clientId?: string }, SessionRow>(
        `SELECT ${SESSION_COLUMNS} FROM sessions WHERE ${where} ${SESSION_LIVE}
         ORDER BY created_at DESC, rowid DESC`,
      )
    this.selectLiveSessions = {
      all: live(''),
      user: live('user_id = @userId AND'),
      client: live('client_id = @clientId AND'),
      both: live('user_id = @userId AND client_id = @clientId AND'),
    }

    const insertSession = main.prepare<Params>(
      `INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const insertRefresh = main.prepare<Params>(
      `INSERT INTO refresh_tokens (${REFRESH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const recordSessionOnCode = main.prepare<[string, string]>(
      'UPDATE authorization_codes SET session_id = ? WHERE hash = ?',
    )
    this.createSessionTx = main.transaction(
      (session: SessionRecord, refresh: RefreshTokenRecord | null, codeHash: string | null) => {
        insertSession.run(...sessionParams(session))
        if (refresh !== null) insertRefresh.run(...refreshParams(refresh))
        if (codeHash !== null) recordSessionOnCode.run(session.id, codeHash)
      },
    )

    this.selectRefresh = main.prepare<{ hash: string; now: number }, RefreshRow>(
      `SELECT ${REFRESH_COLUMNS} FROM refresh_tokens WHERE hash = @hash AND ${REFRESH_LIVE}`,
    )

    // The presented token is current only while its session is live: one conditional UPDATE decides,
    // so of concurrent rotations exactly one matches (RFC 9700 §4.14.2, refresh token rotation).
    const markRefreshUsed = main.prepare<
      { hash: string; now: number; successorHash: string; successorSealed: string },
      RefreshRow
    >(
      `UPDATE refresh_tokens
       SET used_at = @now, successor_hash = @successorHash, successor_sealed = @successorSealed
       WHERE hash = @hash AND used_at IS NULL AND ${REFRESH_LIVE}
       RETURNING ${REFRESH_COLUMNS}`,
    )
    const selectUsedRefresh = main.prepare<{ hash: string; now: number }, RefreshRow>(
      `SELECT ${REFRESH_COLUMNS} FROM refresh_tokens
       WHERE hash = @hash AND used_at IS NOT NULL AND ${REFRESH_LIVE}`,
    )
    const pushIdleExpiry = main.prepare<[number, string]>(
      'UPDATE sessions SET idle_expires_at = ? WHERE id = ?',
    )
    this.rotateTx = main.transaction(
      (
        hash: string,
        successor: RefreshTokenRecord,
        successorSealed: string,
        idleExpiresAt: number,
        now: number,
      ): RotateOutcome => {
        const previous = markRefreshUsed.get({
          hash,
          now,
          successorHash: successor.hash,
          successorSealed,
        })
        if (previous === undefined) {
          // Lost the race, or was never current. `reused` only while the token is unexpired and its
          // session live (what `getRefreshToken` returns); past that nothing is left to protect.
          const used = selectUsedRefresh.get({ hash, now })
          return used === undefined
            ? { outcome: 'invalid' }
            : { outcome: 'reused', previous: refreshFromRow(used) }
        }
        insertRefresh.run(...refreshParams(successor))
        pushIdleExpiry.run(idleExpiresAt, previous.session_id)
        return { outcome: 'rotated', previous: refreshFromRow(previous) }
      },
    )

    const pruneCodes = main.prepare<[number]>(
      'DELETE FROM authorization_codes WHERE expires_at < ?',
    )
    const pruneLogins = main.prepare<[number]>('DELETE FROM logins WHERE expires_at < ?')
    // A session past its absolute or idle expiry can never be live again (rotation, the only thing
    // that pushes the idle expiry, needs it live). A revoked one is kept until then, so that
    // `getSession` still reports it revoked while its tokens could be around.
    const pruneSessions = main.prepare<[number, number]>(
      'DELETE FROM sessions WHERE expires_at < ? OR idle_expires_at < ?',
    )
    // Expired refresh tokens, and those of sessions that are gone (pruned or deleted).
    const pruneRefresh = main.prepare<[number]>(
      `DELETE FROM refresh_tokens WHERE expires_at < ?
         OR NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.id = refresh_tokens.session_id)`,
    )
    this.pruneTx = main.transaction(
      (now: number): number =>
        pruneCodes.run(now).changes +
        pruneLogins.run(now).changes +
        pruneSessions.run(now, now).changes +
        pruneRefresh.run(now).changes,
    )
  }

  createLogin(login: LoginRecord): void {
    this.insertLogin.run(...loginParams(login))
  }

  getLogin(hash: string, now: number): LoginRecord | null {
    const row = this.selectLogin.get(hash, now)
    return row === undefined ? null : loginFromRow(row)
  }

  deleteLogin(hash: string): boolean {
    return this.deleteLoginRow.run(hash).changes > 0
  }

  saveCode(code: AuthorizationCodeRecord): void {
    this.insertCode.run(...codeParams(code))
  }

  redeemCode(hash: string, now: number): RedeemResult | null {
    const won = this.markCodeUsed.get(now, hash, now)
    if (won !== undefined) return { outcome: 'redeemed', code: codeFromRow(won) }
    // The update matched nothing: the code is unknown, expired, or used. Only the last is a replay.
    const row = this.selectUnexpiredCode.get(hash, now)
    if (row === undefined || row.used_at === null) return null
    return { outcome: 'replayed', code: codeFromRow(row) }
  }

  createSession(
    session: SessionRecord,
    refresh: RefreshTokenRecord | null,
    codeHash: string | null,
  ): void {
    this.createSessionTx.immediate(session, refresh, codeHash)
  }

  getSession(id: string): SessionRecord | null {
    const row = this.selectSession.get(id)
    return row === undefined ? null : sessionFromRow(row)
  }

  listSessions(filter: { userId?: string; clientId?: string }, now: number): SessionRecord[] {
    const { userId, clientId } = filter
    const statements = this.selectLiveSessions
    const rows =
      userId !== undefined && clientId !== undefined
        ? statements.both.all({ now, userId, clientId })
        : userId !== undefined
          ? statements.user.all({ now, userId })
          : clientId !== undefined
            ? statements.client.all({ now, clientId })
            : statements.all.all({ now })
    return rows.map(sessionFromRow)
  }

  rotateRefreshToken(
    hash: string,
    successor: RefreshTokenRecord,
    successorSealed: string,
    idleExpiresAt: number,
    now: number,
  ): RotateOutcome {
    // IMMEDIATE: the write lock is taken before the conditional update reads anything, so another
    // process cannot slip in between it and the successor's insert.
    return this.rotateTx.immediate(hash, successor, successorSealed, idleExpiresAt, now)
  }

  getRefreshToken(hash: string, now: number): RefreshTokenRecord | null {
    const row = this.selectRefresh.get({ hash, now })
    return row === undefined ? null : refreshFromRow(row)
  }

  pruneSessions(now: number): number {
    return this.pruneTx.immediate(now)
  }
}

/**
 * Browser logins, authorization codes, sessions and refresh-token rotation in the PostgreSQL engine
 * (tables `logins`, `authorization_codes`, `sessions`, `refresh_tokens`, see `./index.ts`). Writes
 * that end sessions are in `./revoke.ts`, whose lock order rotation and pruning follow.
 *
 * Liveness, as for opaque tokens: a row is live while `now < expires_at`; a session also needs
 * `now < idle_expires_at` and `revoked_at IS NULL`. Pruning deletes what expired strictly before `now`.
 * `now` is compared as `float8`, since rotation's carries a fraction of a second.
 */

import type {
  AuthorizationCodeRecord,
  LoginRecord,
  RefreshTokenRecord,
  RotateOutcome,
  SessionRecord,
} from '../types.js'
import { sql, type PgDatabase } from './connection.js'
import {
  CODE_COLUMNS,
  LOGIN_COLUMNS,
  REFRESH_COLUMNS,
  SESSION_COLUMNS,
  codeFromRow,
  codeValues,
  loginFromRow,
  loginValues,
  placeholders,
  refreshFromRow,
  refreshValues,
  sessionFromRow,
  sessionValues,
  type CodeRow,
  type LoginRow,
  type RefreshRow,
  type SessionRow,
} from './rows.js'

/** A refresh token (used or not) is live at `$2`: unexpired, and its session live. */
const REFRESH_LIVE = `refresh_tokens.expires_at > $2::float8 AND EXISTS (
  SELECT 1 FROM sessions s WHERE s.id = refresh_tokens.session_id
    AND s.revoked_at IS NULL AND s.expires_at > $2::float8 AND s.idle_expires_at > $2::float8)`

const INSERT_LOGIN = sql(
  'insert_login',
  `INSERT INTO logins (${LOGIN_COLUMNS}) VALUES (${placeholders(4)})`,
)
const SELECT_LOGIN = sql(
  'select_login',
  `SELECT ${LOGIN_COLUMNS} FROM logins WHERE hash = $1 AND expires_at > $2::float8`,
)
const DELETE_LOGIN = sql('delete_login', 'DELETE FROM logins WHERE hash = $1')

const INSERT_CODE = sql(
  'insert_code',
  `INSERT INTO authorization_codes (${CODE_COLUMNS}) VALUES (${placeholders(15)})`,
)
// RFC 6749 §4.1.2: a code MUST NOT be used more than once. One conditional statement: of concurrent
// redemptions (any connection, any node) the first takes the row lock; the others wait for it, then
// re-check `used_at IS NULL` on the committed row (READ COMMITTED) and match nothing.
const MARK_CODE_USED = sql(
  'redeem_code',
  `UPDATE authorization_codes SET used_at = $2
   WHERE hash = $1 AND used_at IS NULL AND expires_at > $2
   RETURNING ${CODE_COLUMNS}`,
)
const SELECT_UNEXPIRED_CODE = sql(
  'select_code',
  `SELECT ${CODE_COLUMNS} FROM authorization_codes WHERE hash = $1 AND expires_at > $2::float8`,
)

const INSERT_SESSION = sql(
  'insert_session',
  `INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (${placeholders(11)})`,
)
const INSERT_REFRESH = sql(
  'insert_refresh',
  `INSERT INTO refresh_tokens (${REFRESH_COLUMNS}) VALUES (${placeholders(11)})`,
)
const RECORD_SESSION_ON_CODE = sql(
  'record_session_on_code',
  'UPDATE authorization_codes SET session_id = $2 WHERE hash = $1',
)
const SELECT_SESSION = sql(
  'select_session',
  `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1`,
)

// One statement per filter, so each can use its index. `position DESC` breaks ties between sessions
// created in the same second: the later insert first.
const liveSessions = (name: string, where: string) =>
  sql(
    `live_sessions_${name}`,
    `SELECT ${SESSION_COLUMNS} FROM sessions WHERE ${where}
       revoked_at IS NULL AND expires_at > $1::float8 AND idle_expires_at > $1::float8
     ORDER BY created_at DESC, position DESC`,
  )
const LIVE_SESSIONS = {
  all: liveSessions('all', ''),
  user: liveSessions('user', 'user_id = $2 AND'),
  client: liveSessions('client', 'client_id = $2 AND'),
  both: liveSessions('both', 'user_id = $2 AND client_id = $3 AND'),
}

const SELECT_REFRESH = sql(
  'select_refresh',
  `SELECT ${REFRESH_COLUMNS} FROM refresh_tokens WHERE hash = $1 AND ${REFRESH_LIVE}`,
)
// The presented token is current only while its session is live: one conditional UPDATE (inside
// the function) decides, so of concurrent rotations exactly one matches (RFC 9700 §4.14.2).
const ROTATE_REFRESH = sql(
  'rotate_refresh_fn',
  `SELECT ${REFRESH_COLUMNS} FROM latchkey_rotate_refresh(${placeholders(12)})`,
)
// Pruning, in the engine's lock order (see `./revoke.ts`). `ceil` keeps each comparison on `bigint`,
// so the `expires_at` indexes serve it: for a whole number x, x < t exactly when x < ceil(t).
/**
 * A session past its absolute or idle expiry can never be live again (rotation, the only thing that
 * pushes the idle expiry, needs it live). A revoked one is kept until then, so that `getSession`
 * still reports it revoked while its tokens could be around.
 */
const PRUNE_SESSIONS = sql(
  'prune_sessions',
  `DELETE FROM sessions
   WHERE expires_at < ceil($1::float8)::bigint OR idle_expires_at < ceil($1::float8)::bigint`,
)
// Expired refresh tokens, and those of sessions that are gone (pruned or deleted).
const PRUNE_REFRESH = sql(
  'prune_refresh',
  `DELETE FROM refresh_tokens WHERE expires_at < ceil($1::float8)::bigint
     OR NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.id = refresh_tokens.session_id)`,
)
const PRUNE_CODES = sql(
  'prune_codes',
  'DELETE FROM authorization_codes WHERE expires_at < ceil($1::float8)::bigint',
)
const PRUNE_LOGINS = sql(
  'prune_logins',
  'DELETE FROM logins WHERE expires_at < ceil($1::float8)::bigint',
)

export type RedeemResult = { outcome: 'redeemed' | 'replayed'; code: AuthorizationCodeRecord }

export class PgSessions {
  constructor(private readonly db: PgDatabase) {}

  async createLogin(login: LoginRecord): Promise<void> {
    await this.db.count(INSERT_LOGIN, loginValues(login))
  }

  async getLogin(hash: string, now: number): Promise<LoginRecord | null> {
    const [row] = await this.db.rows<LoginRow>(SELECT_LOGIN, [hash, now])
    return row === undefined ? null : loginFromRow(row)
  }

  async deleteLogin(hash: string): Promise<boolean> {
    return (await this.db.count(DELETE_LOGIN, [hash])) > 0
  }

  async saveCode(code: AuthorizationCodeRecord): Promise<void> {
    await this.db.count(INSERT_CODE, codeValues(code))
  }

  async redeemCode(hash: string, now: number): Promise<RedeemResult | null> {
    const [won] = await this.db.rows<CodeRow>(MARK_CODE_USED, [hash, now])
    if (won !== undefined) return { outcome: 'redeemed', code: codeFromRow(won) }
    // The update matched nothing: the code is unknown, expired, or used. Only the last is a replay.
    // A new statement, so it sees the winner's commit.
    const [row] = await this.db.rows<CodeRow>(SELECT_UNEXPIRED_CODE, [hash, now])
    if (row === undefined || row.used_at === null) return null
    return { outcome: 'replayed', code: codeFromRow(row) }
  }

  createSession(
    session: SessionRecord,
    refresh: RefreshTokenRecord | null,
    codeHash: string | null,
  ): Promise<void> {
    return this.db.transaction(async (tx) => {
      await tx.count(INSERT_SESSION, sessionValues(session))
      if (refresh !== null) await tx.count(INSERT_REFRESH, refreshValues(refresh))
      if (codeHash !== null) await tx.count(RECORD_SESSION_ON_CODE, [codeHash, session.id])
    })
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const [row] = await this.db.rows<SessionRow>(SELECT_SESSION, [id])
    return row === undefined ? null : sessionFromRow(row)
  }

  async listSessions(
    filter: { userId?: string; clientId?: string },
    now: number,
  ): Promise<SessionRecord[]> {
    const { userId, clientId } = filter
    const rows =
      userId !== undefined && clientId !== undefined
        ? await this.db.rows<SessionRow>(LIVE_SESSIONS.both, [now, userId, clientId])
        : userId !== undefined
          ? await this.db.rows<SessionRow>(LIVE_SESSIONS.user, [now, userId])
          : clientId !== undefined
            ? await this.db.rows<SessionRow>(LIVE_SESSIONS.client, [now, clientId])
            : await this.db.rows<SessionRow>(LIVE_SESSIONS.all, [now])
    return rows.map(sessionFromRow)
  }

  /**
   * One round trip: `latchkey_rotate_refresh` (migration 2) runs what was a transaction of five
   * statements. It first locks the token's session row, as ending the session does (see the lock
   * order in `./revoke.ts`): taking the token's row first and the session's second, to push its idle
   * expiry, would deadlock against a concurrent `revokeSession`, which holds the session and waits
   * for the token. Then the conditional UPDATE decides, as it would alone: under READ COMMITTED a
   * concurrent rotation waits for the lock, then re-reads the token as used. The row it returns is
   * the presented token: marked with this successor (rotated), with another (a reuse), or none.
   */
  async rotateRefreshToken(
    hash: string,
    successor: RefreshTokenRecord,
    successorSealed: string,
    idleExpiresAt: number,
    now: number,
  ): Promise<RotateOutcome> {
    const [row] = await this.db.rowsRetrying<RefreshRow>(ROTATE_REFRESH, [
      hash,
      now,
      successorSealed,
      idleExpiresAt,
      successor.hash,
      successor.sessionId,
      successor.clientId,
      successor.userId,
      successor.scope,
      successor.issuedAt,
      successor.expiresAt,
      successor.jkt,
    ])
    if (row === undefined) return { outcome: 'invalid' }
    const previous = refreshFromRow(row)
    return previous.successorHash === successor.hash
      ? { outcome: 'rotated', previous }
      : { outcome: 'reused', previous }
  }

  async getRefreshToken(hash: string, now: number): Promise<RefreshTokenRecord | null> {
    const [row] = await this.db.rows<RefreshRow>(SELECT_REFRESH, [hash, now])
    return row === undefined ? null : refreshFromRow(row)
  }

  pruneSessions(now: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      let pruned = 0
      for (const statement of [PRUNE_SESSIONS, PRUNE_REFRESH, PRUNE_CODES, PRUNE_LOGINS]) {
        pruned += await tx.count(statement, [now])
      }
      return pruned
    })
  }
}

/**
 * Writes that take access away in the PostgreSQL engine: revoking an opaque token, ending a session,
 * every session of a user, of a user at the clients whose consent is revoked, or of a browser login
 * (logout), deleting a user or a client. Each is one transaction: once it resolves (PostgreSQL has
 * flushed the commit to its WAL), the tokens are gone and the revocation event is in the feed, and a
 * crash cannot bring either back.
 *
 * Lock order, the same in every transaction of this engine: users, sessions, refresh tokens, opaque
 * tokens, codes, logins, consents, and the feed lock last (see `./feed.ts`). Rotation in `./sessions.ts` locks
 * the session before its refresh token for this reason. Two transactions that take row locks in
 * opposite orders can deadlock: PostgreSQL aborts one after `deadlock_timeout` (1 s by default), and
 * `PgDatabase.transaction` runs it again, but a second lost is a second of a request.
 */

import type { RevocationInput, SessionRecord } from '../types.js'
import { sql, type PgDatabase, type Queryable } from './connection.js'
import { APPEND_REVOCATION } from './feed.js'
import { SESSION_COLUMNS, revocationValues, sessionFromRow, type SessionRow } from './rows.js'

const DELETE_TOKEN = sql('revoke_token', 'DELETE FROM opaque_tokens WHERE hash = $1')

const MARK_SESSION_REVOKED = sql(
  'revoke_session',
  `UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL
   RETURNING ${SESSION_COLUMNS}`,
)
const DELETE_SESSIONS_REFRESH = sql(
  'revoke_sessions_refresh',
  'DELETE FROM refresh_tokens WHERE session_id = ANY($1::text[])',
)
const DELETE_SESSIONS_TOKENS = sql(
  'revoke_sessions_tokens',
  'DELETE FROM opaque_tokens WHERE sid = ANY($1::text[])',
)
const DELETE_LOGINS = sql('revoke_logins', 'DELETE FROM logins WHERE hash = ANY($1::text[])')

const MARK_USER_SESSIONS_REVOKED = sql(
  'revoke_user_sessions',
  `UPDATE sessions SET revoked_at = $2
   WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2
   RETURNING ${SESSION_COLUMNS}, position`,
)
const MARK_LOGIN_SESSIONS_REVOKED = sql(
  'revoke_login_sessions',
  `UPDATE sessions SET revoked_at = $2
   WHERE login_hash = $1 AND revoked_at IS NULL AND expires_at > $2 AND idle_expires_at > $2
   RETURNING ${SESSION_COLUMNS}, position`,
)
const DELETE_USER_LOGINS = sql('revoke_user_logins', 'DELETE FROM logins WHERE user_id = $1')

const DELETE_USER = sql('delete_user', 'DELETE FROM users WHERE id = $1')
// Sessions are ended, not deleted: `getSession` keeps reporting them revoked.
const REVOKE_ALL_USER_SESSIONS = sql(
  'delete_user_sessions',
  'UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL',
)
const DELETE_USER_REFRESH = sql(
  'delete_user_refresh',
  `DELETE FROM refresh_tokens
   WHERE user_id = $1 OR session_id IN (SELECT id FROM sessions WHERE user_id = $1)`,
)
// Tokens of the user's sessions. A client's own token has `sid` null and is never touched, even
// should a client id equal this user id.
const DELETE_USER_TOKENS = sql(
  'delete_user_tokens',
  `DELETE FROM opaque_tokens
   WHERE sid IN (SELECT id FROM sessions WHERE user_id = $1) OR (sub = $1 AND sid IS NOT NULL)`,
)
// Used codes stay until they expire, so that a replay is still recognised (RFC 6749 §4.1.2).
const DELETE_UNUSED_CODES = sql(
  'delete_user_codes',
  'DELETE FROM authorization_codes WHERE user_id = $1 AND used_at IS NULL',
)

// Deleting a client starts with its sessions, which locks them first (see the lock order above), and
// returns what the rest is found by.
const DELETE_CLIENT_SESSIONS = sql(
  'delete_client_sessions',
  'DELETE FROM sessions WHERE client_id = $1 RETURNING id, login_hash, revoked_at',
)
const DELETE_CLIENT_REFRESH = sql(
  'delete_client_refresh',
  'DELETE FROM refresh_tokens WHERE client_id = $1 OR session_id = ANY($2::text[])',
)
const DELETE_CLIENT_TOKENS = sql(
  'delete_client_tokens',
  'DELETE FROM opaque_tokens WHERE client_id = $1',
)
const DELETE_CLIENT_CODES = sql(
  'delete_client_codes',
  'DELETE FROM authorization_codes WHERE client_id = $1',
)
const DELETE_CLIENT = sql('delete_client', 'DELETE FROM clients WHERE client_id = $1')
const DELETE_CLIENT_CONSENTS = sql(
  'delete_client_consents',
  'DELETE FROM consents WHERE client_id = $1',
)
const DELETE_USER_CONSENTS = sql('delete_user_consents', 'DELETE FROM consents WHERE user_id = $1')

// Revoking consents: the clients are read first (no lock), their sessions ended, and the consents
// deleted after the logins' place in the lock order.
const SELECT_CONSENT_CLIENTS = sql(
  'revoke_consent_clients',
  `SELECT client_id FROM consents WHERE user_id = $1 AND ($2::text IS NULL OR client_id = $2)`,
)
const MARK_CLIENT_SESSIONS_REVOKED = sql(
  'revoke_consent_sessions',
  `UPDATE sessions SET revoked_at = $3
   WHERE user_id = $1 AND client_id = ANY($2::text[]) AND revoked_at IS NULL
     AND expires_at > $3 AND idle_expires_at > $3
   RETURNING ${SESSION_COLUMNS}, position`,
)
// A code approved before the consent was withdrawn must not start a session after it.
const DELETE_CLIENTS_UNUSED_CODES = sql(
  'revoke_consent_codes',
  `DELETE FROM authorization_codes
   WHERE user_id = $1 AND client_id = ANY($2::text[]) AND used_at IS NULL`,
)
const DELETE_CONSENTS = sql(
  'revoke_consents',
  'DELETE FROM consents WHERE user_id = $1 AND client_id = ANY($2::text[]) RETURNING client_id',
)

/** Deletes what ending these sessions takes away, beyond marking them revoked. */
async function forgetSessions(tx: Queryable, sessions: SessionRow[]): Promise<void> {
  const ids = sessions.map((session) => session.id)
  await tx.count(DELETE_SESSIONS_REFRESH, [ids])
  await tx.count(DELETE_SESSIONS_TOKENS, [ids])
  // SessionRecord.loginHash: ending the session ends that login too, or the browser would get a
  // fresh session at once without the user's password.
  const logins = sessions.flatMap((session) =>
    session.login_hash === null ? [] : [session.login_hash],
  )
  if (logins.length > 0) await tx.count(DELETE_LOGINS, [logins])
}

export class PgRevoke {
  constructor(private readonly db: PgDatabase) {}

  revokeToken(hash: string, event: RevocationInput): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // Of two concurrent revocations, the second DELETE waits for the first's row lock, then finds
      // the row gone: exactly one appends the event.
      if ((await tx.count(DELETE_TOKEN, [hash])) === 0) return false
      await tx.rows(APPEND_REVOCATION, revocationValues(event))
      return true
    })
  }

  revokeSession(id: string, event: RevocationInput): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // The contract passes no clock here: the event's time is the revocation's time.
      const [session] = await tx.rows<SessionRow>(MARK_SESSION_REVOKED, [id, event.createdAt])
      if (session === undefined) return false
      await forgetSessions(tx, [session])
      await tx.rows(APPEND_REVOCATION, revocationValues(event))
      return true
    })
  }

  revokeUserSessions(
    userId: string,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      const ended = await tx.rows<SessionRow & { position: number }>(MARK_USER_SESSIONS_REVOKED, [
        userId,
        now,
      ])
      // Newest first, as `listSessions` lists them.
      ended.sort((a, b) => b.created_at - a.created_at || b.position - a.position)
      // Built before anything is deleted; a throwing `eventFor` rolls the whole transaction back.
      const events = ended.map((session) => eventFor(sessionFromRow(session)))
      if (ended.length > 0) await forgetSessions(tx, ended)
      // Every browser login of the user, not only those its live sessions came from.
      await tx.count(DELETE_USER_LOGINS, [userId])
      for (const event of events) await tx.rows(APPEND_REVOCATION, revocationValues(event))
      return ended.map((session) => session.id)
    })
  }

  endLogin(
    hash: string,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      const ended = await tx.rows<SessionRow & { position: number }>(MARK_LOGIN_SESSIONS_REVOKED, [
        hash,
        now,
      ])
      // Newest first, as `listSessions` lists them.
      ended.sort((a, b) => b.created_at - a.created_at || b.position - a.position)
      // Built before anything is deleted; a throwing `eventFor` rolls the whole transaction back.
      const events = ended.map((session) => eventFor(sessionFromRow(session)))
      if (ended.length > 0) await forgetSessions(tx, ended)
      await tx.count(DELETE_LOGINS, [[hash]])
      for (const event of events) await tx.rows(APPEND_REVOCATION, revocationValues(event))
      return ended.map((session) => session.id)
    })
  }

  deleteUser(id: string, event: RevocationInput): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if ((await tx.count(DELETE_USER, [id])) === 0) return false
      await tx.count(REVOKE_ALL_USER_SESSIONS, [id, event.createdAt])
      await tx.count(DELETE_USER_REFRESH, [id])
      await tx.count(DELETE_USER_TOKENS, [id])
      await tx.count(DELETE_UNUSED_CODES, [id])
      await tx.count(DELETE_USER_LOGINS, [id])
      await tx.count(DELETE_USER_CONSENTS, [id])
      // One `sub` event covers every JWT issued to the user up to now.
      await tx.rows(APPEND_REVOCATION, revocationValues(event))
      return true
    })
  }

  deleteClient(clientId: string, event: RevocationInput): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const sessions = await tx.rows<{
        id: string
        login_hash: string | null
        revoked_at: number | null
      }>(DELETE_CLIENT_SESSIONS, [clientId])
      await tx.count(DELETE_CLIENT_REFRESH, [clientId, sessions.map((s) => s.id)])
      await tx.count(DELETE_CLIENT_TOKENS, [clientId])
      await tx.count(DELETE_CLIENT_CODES, [clientId])
      // The logins its live sessions came from (a revoked session's login went when it was ended).
      const logins = sessions.flatMap((s) =>
        s.revoked_at === null && s.login_hash !== null ? [s.login_hash] : [],
      )
      if (logins.length > 0) await tx.count(DELETE_LOGINS, [logins])
      if ((await tx.count(DELETE_CLIENT, [clientId])) === 0) return false
      await tx.count(DELETE_CLIENT_CONSENTS, [clientId])
      await tx.rows(APPEND_REVOCATION, revocationValues(event))
      return true
    })
  }

  revokeConsent(
    userId: string,
    clientId: string | null,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): Promise<{ clients: string[]; sessions: string[] }> {
    return this.db.transaction(async (tx) => {
      const found = await tx.rows<{ client_id: string }>(SELECT_CONSENT_CLIENTS, [userId, clientId])
      if (found.length === 0) return { clients: [], sessions: [] }
      const wanted = found.map((row) => row.client_id)
      const ended = await tx.rows<SessionRow & { position: number }>(MARK_CLIENT_SESSIONS_REVOKED, [
        userId,
        wanted,
        now,
      ])
      ended.sort((a, b) => b.created_at - a.created_at || b.position - a.position)
      // Built before anything is deleted; a throwing `eventFor` rolls the whole transaction back.
      const events = ended.map((session) => eventFor(sessionFromRow(session)))
      // Not `forgetSessions`: the browser login stays, and is asked for consent again.
      const ids = ended.map((session) => session.id)
      if (ids.length > 0) {
        await tx.count(DELETE_SESSIONS_REFRESH, [ids])
        await tx.count(DELETE_SESSIONS_TOKENS, [ids])
      }
      await tx.count(DELETE_CLIENTS_UNUSED_CODES, [userId, wanted])
      const deleted = await tx.rows<{ client_id: string }>(DELETE_CONSENTS, [userId, wanted])
      for (const event of events) await tx.rows(APPEND_REVOCATION, revocationValues(event))
      return { clients: deleted.map((row) => row.client_id).sort(), sessions: ids }
    })
  }
}

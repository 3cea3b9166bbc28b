/**
 * Writes that take a user's access away in the SQLite engine: ending a session, every session of a
 * user, of a user at the clients whose consent is revoked, or of a browser login (logout), deleting
 * a user or a client. Each is one IMMEDIATE transaction on the durable connection
 * (`synchronous = FULL`, see `createSqliteStore`): once it resolves, the tokens are gone and the
 * revocation event is in the feed, and a crash cannot bring either back.
 *
 * Ending a session deletes its refresh tokens (current and rotated), its opaque access tokens (by
 * `sid`) and the browser login it came from, and appends a `sid` event that covers its JWTs.
 */

import type Database from 'better-sqlite3'
import type { RevocationInput, SessionRecord } from '../types.js'
import {
  SESSION_COLUMNS,
  revocationParams,
  sessionFromRow,
  type Params,
  type SessionRow,
} from './rows.js'

export class SqliteRevoke {
  private readonly revokeSessionTx
  private readonly revokeUserSessionsTx
  private readonly endLoginTx
  private readonly deleteUserTx
  private readonly deleteClientTx
  private readonly revokeConsentTx

  constructor(durable: Database.Database) {
    const insertRevocation = durable.prepare<Params>(
      `INSERT INTO revocations (kind, value, client_id, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?)`,
    )
    const deleteSessionRefresh = durable.prepare<[string]>(
      'DELETE FROM refresh_tokens WHERE session_id = ?',
    )
    const deleteSessionTokens = durable.prepare<[string]>('DELETE FROM opaque_tokens WHERE sid = ?')
    const deleteLogin = durable.prepare<[string]>('DELETE FROM logins WHERE hash = ?')
    /** What ending `session` deletes, beyond marking it revoked. */
    const forgetSession = (session: SessionRow): void => {
      deleteSessionRefresh.run(session.id)
      deleteSessionTokens.run(session.id)
      // SessionRecord.loginHash: ending the session ends that login too, or the browser would get a
      // fresh session at once without the user's password.
      if (session.login_hash !== null) deleteLogin.run(session.login_hash)
    }

    const markSessionRevoked = durable.prepare<[number, string], SessionRow>(
      `UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL
       RETURNING ${SESSION_COLUMNS}`,
    )
    this.revokeSessionTx = durable.transaction((id: string, event: RevocationInput): boolean => {
      // The contract passes no clock here: the event's time is the revocation's time.
      const session = markSessionRevoked.get(event.createdAt, id)
      if (session === undefined) return false
      forgetSession(session)
      insertRevocation.run(...revocationParams(event))
      return true
    })

    const markUserSessionsRevoked = durable.prepare<[number, string, number, number], SessionRow>(
      `UPDATE sessions SET revoked_at = ?
       WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND idle_expires_at > ?
       RETURNING ${SESSION_COLUMNS}`,
    )
    const deleteUserLogins = durable.prepare<[string]>('DELETE FROM logins WHERE user_id = ?')
    this.revokeUserSessionsTx = durable.transaction(
      (
        userId: string,
        now: number,
        eventFor: (session: SessionRecord) => RevocationInput,
      ): string[] => {
        const ended = markUserSessionsRevoked.all(now, userId, now, now)
        // Newest first, as `listSessions` lists them.
        ended.sort((a, b) => b.created_at - a.created_at)
        for (const session of ended) {
          forgetSession(session)
          // A throwing `eventFor` rolls the whole transaction back.
          insertRevocation.run(...revocationParams(eventFor(sessionFromRow(session))))
        }
        // Every browser login of the user, not only those its live sessions came from.
        deleteUserLogins.run(userId)
        return ended.map((session) => session.id)
      },
    )

    const markLoginSessionsRevoked = durable.prepare<[number, string, number, number], SessionRow>(
      `UPDATE sessions SET revoked_at = ?
       WHERE login_hash = ? AND revoked_at IS NULL AND expires_at > ? AND idle_expires_at > ?
       RETURNING ${SESSION_COLUMNS}`,
    )
    this.endLoginTx = durable.transaction(
      (
        hash: string,
        now: number,
        eventFor: (session: SessionRecord) => RevocationInput,
      ): string[] => {
        const ended = markLoginSessionsRevoked.all(now, hash, now, now)
        ended.sort((a, b) => b.created_at - a.created_at)
        for (const session of ended) {
          forgetSession(session)
          insertRevocation.run(...revocationParams(eventFor(sessionFromRow(session))))
        }
        deleteLogin.run(hash)
        return ended.map((session) => session.id)
      },
    )

    const deleteUserRow = durable.prepare<[string]>('DELETE FROM users WHERE id = ?')
    const revokeAllUserSessions = durable.prepare<[number, string]>(
      'UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL',
    )
    const deleteUserRefresh = durable.prepare<[string, string]>(
      `DELETE FROM refresh_tokens
       WHERE user_id = ? OR session_id IN (SELECT id FROM sessions WHERE user_id = ?)`,
    )
    // Tokens of the user's sessions. A client's own token has `sid` null and is never touched, even
    // should a client id equal this user id.
    const deleteUserTokens = durable.prepare<[string, string]>(
      `DELETE FROM opaque_tokens
       WHERE sid IN (SELECT id FROM sessions WHERE user_id = ?) OR (sub = ? AND sid IS NOT NULL)`,
    )
    // Used codes stay until they expire, so that a replay is still recognised (RFC 6749 §4.1.2).
    const deleteUnusedCodes = durable.prepare<[string]>(
      'DELETE FROM authorization_codes WHERE user_id = ? AND used_at IS NULL',
    )
    const deleteUserConsents = durable.prepare<[string]>('DELETE FROM consents WHERE user_id = ?')
    this.deleteUserTx = durable.transaction((id: string, event: RevocationInput): boolean => {
      if (deleteUserRow.run(id).changes === 0) return false
      deleteUserConsents.run(id)
      // Sessions are ended, not deleted: `getSession` keeps reporting them revoked.
      revokeAllUserSessions.run(event.createdAt, id)
      deleteUserRefresh.run(id, id)
      deleteUserTokens.run(id, id)
      deleteUserLogins.run(id)
      deleteUnusedCodes.run(id)
      // One `sub` event covers every JWT issued to the user up to now.
      insertRevocation.run(...revocationParams(event))
      return true
    })

    const deleteClientLogins = durable.prepare<[string]>(
      `DELETE FROM logins WHERE hash IN
         (SELECT login_hash FROM sessions WHERE client_id = ? AND revoked_at IS NULL)`,
    )
    const deleteClientRefresh = durable.prepare<[string, string]>(
      `DELETE FROM refresh_tokens
       WHERE client_id = ? OR session_id IN (SELECT id FROM sessions WHERE client_id = ?)`,
    )
    const deleteClientTokens = durable.prepare<[string]>(
      'DELETE FROM opaque_tokens WHERE client_id = ?',
    )
    const deleteClientCodes = durable.prepare<[string]>(
      'DELETE FROM authorization_codes WHERE client_id = ?',
    )
    const deleteClientSessions = durable.prepare<[string]>(
      'DELETE FROM sessions WHERE client_id = ?',
    )
    const deleteClientRow = durable.prepare<[string]>('DELETE FROM clients WHERE client_id = ?')
    const deleteClientConsents = durable.prepare<[string]>(
      'DELETE FROM consents WHERE client_id = ?',
    )
    this.deleteClientTx = durable.transaction(
      (clientId: string, event: RevocationInput): boolean => {
        // Order matters: logins and refresh tokens are found through the sessions deleted below.
        deleteClientLogins.run(clientId)
        deleteClientRefresh.run(clientId, clientId)
        deleteClientTokens.run(clientId)
        deleteClientCodes.run(clientId)
        deleteClientSessions.run(clientId)
        deleteClientConsents.run(clientId)
        if (deleteClientRow.run(clientId).changes === 0) return false
        insertRevocation.run(...revocationParams(event))
        return true
      },
    )

    const deleteConsents = durable
      .prepare<[string, string | null, string | null], string>(
        'DELETE FROM consents WHERE user_id = ? AND (? IS NULL OR client_id = ?) RETURNING client_id',
      )
      .pluck()
    const markClientSessionsRevoked = durable.prepare<
      [number, string, string, number, number],
      SessionRow
    >(
      `UPDATE sessions SET revoked_at = ?
       WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL AND expires_at > ?
         AND idle_expires_at > ?
       RETURNING ${SESSION_COLUMNS}`,
    )
    // A code approved before the consent was withdrawn must not start a session after it.
    const deleteUnusedClientCodes = durable.prepare<[string, string]>(
      'DELETE FROM authorization_codes WHERE user_id = ? AND client_id = ? AND used_at IS NULL',
    )
    this.revokeConsentTx = durable.transaction(
      (
        userId: string,
        clientId: string | null,
        now: number,
        eventFor: (session: SessionRecord) => RevocationInput,
      ): { clients: string[]; sessions: string[] } => {
        const clients = deleteConsents.all(userId, clientId, clientId).sort()
        const sessions: string[] = []
        for (const client of clients) {
          const ended = markClientSessionsRevoked.all(now, userId, client, now, now)
          ended.sort((a, b) => b.created_at - a.created_at)
          for (const session of ended) {
            // Not `forgetSession`: the browser login stays, and is asked for consent again.
            deleteSessionRefresh.run(session.id)
            deleteSessionTokens.run(session.id)
            insertRevocation.run(...revocationParams(eventFor(sessionFromRow(session))))
            sessions.push(session.id)
          }
          deleteUnusedClientCodes.run(userId, client)
        }
        return { clients, sessions }
      },
    )
  }

  revokeSession(id: string, event: RevocationInput): boolean {
    return this.revokeSessionTx.immediate(id, event)
  }

  revokeUserSessions(
    userId: string,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): string[] {
    return this.revokeUserSessionsTx.immediate(userId, now, eventFor)
  }

  endLogin(
    hash: string,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): string[] {
    return this.endLoginTx.immediate(hash, now, eventFor)
  }

  deleteUser(id: string, event: RevocationInput): boolean {
    return this.deleteUserTx.immediate(id, event)
  }

  deleteClient(clientId: string, event: RevocationInput): boolean {
    return this.deleteClientTx.immediate(clientId, event)
  }

  revokeConsent(
    userId: string,
    clientId: string | null,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): { clients: string[]; sessions: string[] } {
    return this.revokeConsentTx.immediate(userId, clientId, now, eventFor)
  }
}

/**
 * Ending sessions, shared by the server (refresh reuse, code replay, RFC 7009 revocation of a refresh
 * token, logout) and the CLI (`session revoke`, `consent revoke`). A `sid` revocation event covers
 * the session's JWT access tokens until the longest of them could still be live.
 */
import type { RevocationInput, SessionRecord, Store } from '../store/types.js'
import { longestAccessTokenLifetime } from './key_management.js'

function sidEvent(
  session: Pick<SessionRecord, 'id' | 'clientId'>,
  now: number,
  keepFor: number,
): RevocationInput {
  return {
    kind: 'sid',
    value: session.id,
    clientId: session.clientId,
    createdAt: now,
    expiresAt: now + keepFor,
  }
}

/** Ends one session durably; `false` when unknown or already ended. */
export async function endSession(store: Store, sessionId: string, now: number): Promise<boolean> {
  const session = await store.getSession(sessionId)
  if (!session || session.revokedAt !== null) return false
  return store.revokeSession(
    sessionId,
    sidEvent(session, now, await longestAccessTokenLifetime(store)),
  )
}

/**
 * Forgets a user's consent to `clientId` (to every client when `null`) and ends their live sessions
 * at each client whose consent it forgot; returns those clients and the ended session ids.
 */
export async function endConsentSessions(
  store: Store,
  userId: string,
  clientId: string | null,
  now: number,
): Promise<{ clients: string[]; sessions: string[] }> {
  const keepFor = await longestAccessTokenLifetime(store)
  return store.revokeConsent(userId, clientId, now, (session) => sidEvent(session, now, keepFor))
}

/**
 * Logout: ends a browser login and every live session it started; returns the ended session ids.
 * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html#RPLogout
 */
export async function endLoginSessions(
  store: Store,
  loginHash: string,
  now: number,
): Promise<string[]> {
  const keepFor = await longestAccessTokenLifetime(store)
  return store.endLogin(loginHash, now, (session) => sidEvent(session, now, keepFor))
}

/** Ends every live session of a user and their browser logins; returns the ended session ids. */
export async function endUserSessions(
  store: Store,
  userId: string,
  now: number,
): Promise<string[]> {
  const keepFor = await longestAccessTokenLifetime(store)
  return store.revokeUserSessions(userId, now, (session) => sidEvent(session, now, keepFor))
}

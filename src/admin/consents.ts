/**
 * Users' remembered consents to third-party clients (OIDC Core §3.1.2.4): the operations behind
 * `latchkey consent list|revoke` and the programmatic API. Revoking a consent also ends the user's
 * sessions at that client, tokens included, so an application whose access is withdrawn loses it
 * (its JWTs through `sid` events in the revocation feed); the next authorization asks again.
 */
import { recordAudit, SERVER_ACTOR, type AuditContext } from '../audit/record.js'
import { UsageError } from '../errors.js'
import type { ConsentRecord, Store, UserRecord } from '../store/types.js'
import { endConsentSessions } from '../tokens/session_revocation.js'

const now = (): number => Math.floor(Date.now() / 1000)
const iso = (t: number): string => new Date(t * 1000).toISOString()

/** A consent as listed. Times are ISO 8601; `scope` is space-separated, as on the wire. */
export interface ConsentJSON {
  user_id: string
  username: string
  client_id: string
  scope: string
  granted_at: string
  updated_at: string
}

function consentJSON(c: ConsentRecord, user: UserRecord): ConsentJSON {
  return {
    user_id: c.userId,
    username: user.username,
    client_id: c.clientId,
    scope: c.scope.join(' '),
    granted_at: iso(c.grantedAt),
    updated_at: iso(c.updatedAt),
  }
}

async function userNamed(store: Store, username: string): Promise<UserRecord> {
  const user = await store.getUserByUsername(username)
  if (!user) throw new UsageError(`no user named ${username}`)
  return user
}

async function checkClient(store: Store, clientId: string | undefined): Promise<void> {
  if (clientId !== undefined && !(await store.getClient(clientId))) {
    throw new UsageError(`no client with id ${clientId}`)
  }
}

/** The consents of a user (by username), to one client when `client` is given. */
export async function listConsents(
  store: Store,
  o: { user: string; client?: string },
): Promise<ConsentJSON[]> {
  const user = await userNamed(store, o.user)
  await checkClient(store, o.client)
  const list = await store.listConsents({ userId: user.id, clientId: o.client })
  return list.map((c) => consentJSON(c, user))
}

/**
 * Withdraws a user's consent to one client, or to every client without `client`, and ends their
 * sessions at those clients; returns the clients whose consent was withdrawn and the sessions ended.
 */
export async function revokeConsents(
  store: Store,
  o: { user: string; client?: string },
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<{ user_id: string; revoked: string[]; sessions: string[] }> {
  const user = await userNamed(store, o.user)
  await checkClient(store, o.client)
  const { clients, sessions } = await endConsentSessions(store, user.id, o.client ?? null, now())
  await recordAudit(store, by, {
    kind: 'consent.revoked',
    subject: user.id,
    details: { clients, sessions },
  })
  return { user_id: user.id, revoked: clients, sessions }
}

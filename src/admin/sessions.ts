/**
 * Sessions (one login of a user at a client, and its refresh-token lineage) are the unit of
 * revocation: the operations behind `latchkey session list|revoke` and the programmatic API. A
 * running server honours a revocation made here within a second: introspection and refresh read the
 * same store.
 */
import { recordAudit, SERVER_ACTOR, type AuditContext } from '../audit/record.js'
import { UsageError } from '../errors.js'
import type { SessionRecord, Store } from '../store/types.js'
import { endSession, endUserSessions } from '../tokens/session_revocation.js'

const now = (): number => Math.floor(Date.now() / 1000)
const iso = (t: number): string => new Date(t * 1000).toISOString()

/** A session as listed. Times are ISO 8601; `expires_at` is the nearer of idle and absolute. */
export interface SessionJSON {
  id: string
  user_id: string
  username: string | null
  client_id: string
  scope: string
  created_at: string
  expires_at: string
  absolute_expires_at: string
}

function sessionJSON(s: SessionRecord, username: string | null): SessionJSON {
  return {
    id: s.id,
    user_id: s.userId,
    username,
    client_id: s.clientId,
    scope: s.scope,
    created_at: iso(s.createdAt),
    expires_at: iso(Math.min(s.expiresAt, s.idleExpiresAt)),
    absolute_expires_at: iso(s.expiresAt),
  }
}

async function userIdOf(store: Store, username: string): Promise<string> {
  const user = await store.getUserByUsername(username)
  if (!user) throw new UsageError(`no user named ${username}`)
  return user.id
}

/** Throws `UsageError` unless exactly one of `user` and `client` is given. */
export function checkListFilter(o: { user?: string; client?: string }): void {
  if ((o.user === undefined) === (o.client === undefined)) {
    throw new UsageError('session list needs exactly one of --user NAME or --client ID')
  }
}

/** Throws `UsageError` unless exactly one of `user` and `id` is given. */
export function checkRevokeTarget(o: { user?: string; id?: string }): void {
  if ((o.user === undefined) === (o.id === undefined)) {
    throw new UsageError('session revoke needs exactly one of --id SESSION_ID or --user NAME')
  }
}

/** Live sessions of a user (by username) or of a client: exactly one of the two. */
export async function listSessions(
  store: Store,
  o: { user?: string; client?: string },
): Promise<SessionJSON[]> {
  checkListFilter(o)
  const filter =
    o.user !== undefined ? { userId: await userIdOf(store, o.user) } : { clientId: o.client }
  const sessions = await store.listSessions(filter, now())
  const names = new Map<string, string | null>()
  for (const s of sessions) {
    if (!names.has(s.userId)) names.set(s.userId, (await store.getUser(s.userId))?.username ?? null)
  }
  return sessions.map((s) => sessionJSON(s, names.get(s.userId) ?? null))
}

/**
 * Ends one session (`id`) or every session of a user (`user`), tokens included; returns the ids of
 * the sessions ended.
 */
export async function revokeSessions(
  store: Store,
  o: { user?: string; id?: string },
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<{ revoked: string[] }> {
  checkRevokeTarget(o)
  if (o.id !== undefined) {
    const session = await store.getSession(o.id)
    if (!session) throw new UsageError(`no session with id ${o.id}`)
    const ended = await endSession(store, o.id, now())
    const revoked = ended ? [o.id] : []
    await recordAudit(store, by, {
      kind: 'session.revoked',
      subject: o.id,
      details: { user_id: session.userId, client_id: session.clientId, revoked },
    })
    return { revoked }
  }
  const userId = await userIdOf(store, o.user as string)
  const revoked = await endUserSessions(store, userId, now())
  await recordAudit(store, by, {
    kind: 'session.revoked',
    subject: userId,
    details: { user_id: userId, revoked },
  })
  return { revoked }
}

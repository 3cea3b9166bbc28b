/**
 * `latchkey session list|revoke`: sessions (one login of a user at a client, and its refresh-token
 * lineage) are the unit of revocation. A running server honours a revocation made here within a
 * second: introspection and refresh read the same store.
 */
import type { SessionRecord, Store } from '../../store/types.js'
import { endSession, endUserSessions } from '../../tokens/session_revocation.js'
import { printJSON, UsageError } from '../output.js'
import { withStore } from '../store.js'

const now = (): number => Math.floor(Date.now() / 1000)
const iso = (t: number): string => new Date(t * 1000).toISOString()

export function sessionJSON(s: SessionRecord, username: string | null): Record<string, unknown> {
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

export async function listSessions(o: {
  db?: string
  user?: string
  client?: string
}): Promise<void> {
  if ((o.user === undefined) === (o.client === undefined)) {
    throw new UsageError('session list needs exactly one of --user NAME or --client ID')
  }
  await withStore(o.db, async (store) => {
    const filter =
      o.user !== undefined ? { userId: await userIdOf(store, o.user) } : { clientId: o.client }
    const sessions = await store.listSessions(filter, now())
    const names = new Map<string, string | null>()
    for (const s of sessions) {
      if (!names.has(s.userId))
        names.set(s.userId, (await store.getUser(s.userId))?.username ?? null)
    }
    printJSON(sessions.map((s) => sessionJSON(s, names.get(s.userId) ?? null)))
  })
}

export async function revokeSessions(o: {
  db?: string
  user?: string
  id?: string
}): Promise<void> {
  if ((o.user === undefined) === (o.id === undefined)) {
    throw new UsageError('session revoke needs exactly one of --id SESSION_ID or --user NAME')
  }
  await withStore(o.db, async (store) => {
    if (o.id !== undefined) {
      const session = await store.getSession(o.id)
      if (!session) throw new UsageError(`no session with id ${o.id}`)
      const ended = await endSession(store, o.id, now())
      printJSON({ revoked: ended ? [o.id] : [] })
      return
    }
    const ended = await endUserSessions(store, await userIdOf(store, o.user as string), now())
    printJSON({ revoked: ended })
  })
}

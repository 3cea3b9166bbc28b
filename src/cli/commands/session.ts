/**
 * `latchkey session list|revoke`: sessions, the unit of revocation (`admin/sessions.ts`).
 */
import * as sessions from '../../admin/sessions.js'
import { printJSON } from '../output.js'
import { cliActor, withStore } from '../store.js'

export async function listSessions(o: {
  db?: string
  user?: string
  client?: string
}): Promise<void> {
  sessions.checkListFilter(o)
  await withStore(o.db, async (store) =>
    printJSON(await sessions.listSessions(store, { user: o.user, client: o.client })),
  )
}

export async function revokeSessions(o: {
  db?: string
  user?: string
  id?: string
}): Promise<void> {
  sessions.checkRevokeTarget(o)
  await withStore(o.db, async (store) =>
    printJSON(await sessions.revokeSessions(store, { user: o.user, id: o.id }, cliActor())),
  )
}

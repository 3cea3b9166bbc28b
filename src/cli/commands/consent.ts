/**
 * `latchkey consent list|revoke`: users' remembered consents to third-party clients
 * (`admin/consents.ts`).
 */
import * as consents from '../../admin/consents.js'
import { printJSON } from '../output.js'
import { cliActor, withStore } from '../store.js'

export async function listConsents(o: {
  db?: string
  user: string
  client?: string
}): Promise<void> {
  await withStore(o.db, async (store) =>
    printJSON(await consents.listConsents(store, { user: o.user, client: o.client })),
  )
}

export async function revokeConsents(o: {
  db?: string
  user: string
  client?: string
}): Promise<void> {
  await withStore(o.db, async (store) =>
    printJSON(await consents.revokeConsents(store, { user: o.user, client: o.client }, cliActor())),
  )
}

/**
 * `latchkey client create|list|show|update|rotate-secret|delete`: registering the applications and APIs that use the
 * server (`admin/clients.ts`).
 */
import * as clients from '../../admin/clients.js'
import { printJSON } from '../output.js'
import { cliActor, withStore } from '../store.js'

export type CreateClientOptions = clients.CreateClientOptions & { db?: string }

export async function createClient(o: CreateClientOptions): Promise<void> {
  // The options are checked before the store is opened: a mistake never needs a database.
  await clients.buildClient(o, 0)
  await withStore(o.db, async (store) =>
    printJSON(await clients.createClient(store, o, cliActor())),
  )
}

export async function listClients(o: { db?: string }): Promise<void> {
  await withStore(o.db, async (store) => printJSON(await clients.listClients(store)))
}

export async function showClient(o: { db?: string; id: string }): Promise<void> {
  await withStore(o.db, async (store) => printJSON(await clients.showClient(store, o.id)))
}

/**
 * As commander gives them: a flag's `--no-` form sets it `false`, which for a text option
 * (`--no-display-name`) means clear it.
 */
export type UpdateClientCliOptions = Omit<
  clients.UpdateClientOptions,
  'displayName' | 'logoUri' | 'backchannelLogoutUri'
> & {
  db?: string
  displayName?: string | false
  logoUri?: string | false
  backchannelLogoutUri?: string | false
}

const clearedOr = (value: string | false | undefined): string | null | undefined =>
  value === false ? null : value

export async function updateClient(o: UpdateClientCliOptions): Promise<void> {
  const changes: clients.UpdateClientOptions = {
    ...o,
    displayName: clearedOr(o.displayName),
    logoUri: clearedOr(o.logoUri),
    backchannelLogoutUri: clearedOr(o.backchannelLogoutUri),
  }
  await withStore(o.db, async (store) =>
    printJSON(await clients.updateClient(store, changes, cliActor())),
  )
}

export async function rotateClientSecret(o: { db?: string; id: string }): Promise<void> {
  await withStore(o.db, async (store) =>
    printJSON(await clients.rotateClientSecret(store, o.id, cliActor())),
  )
}

export async function deleteClient(o: { db?: string; id: string }): Promise<void> {
  await withStore(o.db, async (store) =>
    printJSON(await clients.deleteClient(store, o.id, cliActor())),
  )
}

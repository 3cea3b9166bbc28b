/**
 * Client records held in memory for a short time, so the token endpoint does not read the store for
 * every request of the same client. A change made elsewhere (the CLI, another node) is seen within
 * `ttlMs`; deleting a client also revokes its tokens through the revocation store, which is never cached.
 * Entries are used only while `trusted()` says so (the node's revocation follower reads the store):
 * a node that has lost its store issues nothing, not even a JWT that needs no write.
 */
import type { ClientRecord, ClientStore } from '../store/types.js'

export class ClientCache {
  private readonly entries = new Map<string, { client: ClientRecord | null; until: number }>()

  constructor(
    private readonly store: ClientStore,
    private readonly ttlMs = 1000,
    private readonly capacity = 10_000,
    private readonly trusted: () => boolean = () => true,
  ) {}

  /** The client, or `null` when unknown (also remembered for `ttlMs`). */
  async get(clientId: string): Promise<ClientRecord | null> {
    const now = Date.now()
    const hit = this.entries.get(clientId)
    if (hit && hit.until > now && this.trusted()) return hit.client
    const client = await this.store.getClient(clientId)
    if (this.entries.size >= this.capacity) this.entries.clear()
    this.entries.set(clientId, { client, until: now + this.ttlMs })
    return client
  }

  /** Drops the client's entry (it was deleted). */
  forget(clientId: string): void {
    this.entries.delete(clientId)
  }
}

/**
 * Client records held in memory for a short time, so the token endpoint does not read the store for
 * every request of the same client. A change made elsewhere (the CLI, another node) is seen within
 * `ttlMs`; deleting a client also revokes its tokens through the revocation store, which is never cached.
 * Entries are used only while `trusted()` says so (the node's revocation follower reads the store):
 * a node that has lost its store issues nothing, not even a JWT that needs no write.
 *
 * Bounded (`capacity`), least recently used dropped first: unknown client ids, which are remembered
 * too, push out only the entries used least recently, never a client in use.
 */
import { BoundedCache } from '../cache/bounded.js'
import type { ClientRecord, ClientStore } from '../store/types.js'

export class ClientCache {
  private readonly entries: BoundedCache<string, ClientRecord | null>

  constructor(
    private readonly store: ClientStore,
    private readonly ttlMs = 1000,
    capacity = 10_000,
    private readonly trusted: () => boolean = () => true,
  ) {
    this.entries = new BoundedCache(capacity)
  }

  /** The client, or `null` when unknown (also remembered for `ttlMs`). */
  async get(clientId: string): Promise<ClientRecord | null> {
    const now = Date.now()
    const hit = this.entries.get(clientId, now)
    if (hit !== undefined && this.trusted()) return hit
    const client = await this.store.getClient(clientId)
    this.entries.set(clientId, client, now + this.ttlMs)
    return client
  }

  /** Drops the client's entry (it was deleted). */
  forget(clientId: string): void {
    this.entries.delete(clientId)
  }
}

/**
 * Wake-ups of the revocation followers of sibling processes on one host (`serve --workers N`),
 * through node:cluster's IPC channel, as `redis/revocation_wakeups.ts` does between nodes through
 * Redis pub/sub. After a write that appended a revocation event commits, the worker announces it;
 * every sibling's follower then reads the store at once instead of at its next poll (SQLite) or
 * beside the engine's own notice (PostgreSQL LISTEN/NOTIFY). A message is a hint, never the event:
 * the events are read from the store, so a lost message costs only the poll interval.
 */
import { afterRevokingWrites } from './revoking_writes.js'
import type { Store } from './types.js'

/** Where announcements go and come from: the cluster link, seen by the store as a bare channel. */
export interface WakeupChannel {
  /** Tells every sibling that a revocation was appended. */
  announce(): void
  /** Calls `wake` on every sibling's announcement. */
  listen(wake: () => void): void
}

/**
 * Wraps `store`: committed revocations are announced on `channel`, and `watchRevocations` calls
 * back on the engine's own notices and on the siblings' announcements. Does not cache anything.
 */
export function withClusterWakeups(store: Store, channel: WakeupChannel): Store {
  const watchers = new Set<() => void>()
  channel.listen(() => {
    for (const watcher of [...watchers]) watcher()
  })
  const wrapped = afterRevokingWrites(store, (appended) => {
    if (appended) channel.announce()
  })
  Object.assign(wrapped, {
    watchRevocations(onAppend: () => void): () => Promise<void> {
      watchers.add(onAppend)
      const stopEngine = store.watchRevocations?.(onAppend)
      return async () => {
        watchers.delete(onAppend)
        await stopEngine?.()
      }
    },
  })
  return wrapped
}

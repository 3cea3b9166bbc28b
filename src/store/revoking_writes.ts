/**
 * The store writes that can append a revocation event, listed once. A wrapper that must act after
 * every revocation has committed (announce it on Redis, wait for this node's revocation follower)
 * wraps them all through `afterRevokingWrites`, so a new revoking write is added in one place.
 */
import type { RevocationInput, SessionRecord, Store } from './types.js'

/**
 * The store, with `after(appended)` awaited after each write that may append a revocation event,
 * once it has resolved; `appended` tells whether it did. The write's result is returned unchanged.
 */
export function afterRevokingWrites(
  store: Store,
  after: (appended: boolean) => Promise<void> | void,
): Store {
  const wrap =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>, appended: (result: R) => boolean) =>
    async (...args: A): Promise<R> => {
      const result = await write(...args)
      await after(appended(result))
      return result
    }
  const done = (result: boolean): boolean => result
  const wrapped: Store = Object.create(store) as Store
  Object.assign(wrapped, {
    appendRevocation: wrap(
      (event: RevocationInput) => store.appendRevocation(event),
      () => true,
    ),
    revokeToken: wrap(
      (hash: string, event: RevocationInput) => store.revokeToken(hash, event),
      done,
    ),
    revokeSession: wrap(
      (id: string, event: RevocationInput) => store.revokeSession(id, event),
      done,
    ),
    revokeUserSessions: wrap(
      (userId: string, now: number, eventFor: (s: SessionRecord) => RevocationInput) =>
        store.revokeUserSessions(userId, now, eventFor),
      (ids: string[]) => ids.length > 0,
    ),
    deleteUser: wrap((id: string, event: RevocationInput) => store.deleteUser(id, event), done),
    deleteClient: wrap(
      (clientId: string, event: RevocationInput) => store.deleteClient(clientId, event),
      done,
    ),
  })
  return wrapped
}

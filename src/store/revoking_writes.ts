/**
 * The store writes that can append a revocation event: those whose entry in `invalidation.ts` says
 * they invalidate `revocations`. A wrapper that must act after every revocation has committed
 * (announce it on Redis, wait for this node's revocation follower) wraps them all through
 * `afterRevokingWrites`, so a new revoking write is declared in one place.
 */
import { afterWrites, invalidated, methodsInvalidating } from './invalidation.js'
import type { Store } from './types.js'

/**
 * The store, with `after(appended)` awaited after each write that may append a revocation event,
 * once it has resolved; `appended` tells whether it did. The write's result is returned unchanged.
 */
export function afterRevokingWrites(
  store: Store,
  after: (appended: boolean) => Promise<void> | void,
): Store {
  return afterWrites(store, methodsInvalidating('revocations'), (method, args, result) =>
    after(invalidated('revocations', method, args, result) === true),
  )
}

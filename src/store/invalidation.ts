/**
 * What each store method makes stale in the caches that wrap the store, declared once for every
 * method of the `Store` contract. The wrappers derive their invalidation from this table:
 * - the Redis cache (`redis/cache.ts`) deletes the token, client and signing-key-list entries a write
 *   names;
 * - the token memo (`token_memo.ts`) drops the tokens a write names;
 * - the revocation memo (`revocation_memo.ts`), and every cache through the guard (`cache_guard.ts`),
 *   rely on the writes that append a revocation event waiting for this node's follower, and Redis
 *   wake-ups announce them: both wrap exactly the writes whose `revocations` says so
 *   (`revoking_writes.ts`).
 * The table's type names every method of `Store`, so a new store method does not compile until it is
 * classified here: a new write cannot leave a cache stale unnoticed.
 *
 * Records covered by a revocation event (a session's, a user's or a client's tokens) need no entry of
 * their own here: the guard refuses them once the follower has the event.
 */
import type { RevocationInput, Store } from './types.js'

/** The methods of the store (not its properties). */
export type StoreMethod = {
  [M in keyof Store]-?: Store[M] extends (...args: never[]) => unknown ? M : never
}[keyof Store]

type Args<M extends StoreMethod> = Store[M] extends (...args: infer A) => unknown ? A : never
type Result<M extends StoreMethod> = Store[M] extends (...args: never[]) => infer R
  ? Awaited<R>
  : never

/**
 * What a call makes stale, from its arguments and its result. Each absent field: nothing of that
 * kind; `{}`: the method invalidates nothing cached.
 */
export interface Invalidates<M extends StoreMethod> {
  /** The hash of the opaque access token whose cached record is stale, or `null`. */
  token?: (args: Args<M>, result: Result<M>) => string | null
  /** The id of the client whose cached record is stale, or `null`. */
  client?: (args: Args<M>, result: Result<M>) => string | null
  /** Whether the cached list of signing keys is stale. */
  keys?: (args: Args<M>, result: Result<M>) => boolean
  /** Whether the call appended a revocation event (every cache must then wait for the follower). */
  revocations?: (args: Args<M>, result: Result<M>) => boolean
}

const NOTHING = {}
const always = (): true => true
const appendedWhenTrue = (_args: unknown, result: boolean): boolean => result
const firstArgument = <A extends [string, ...unknown[]]>(args: A): string => args[0]

/** Every store method with what it invalidates. Reads and writes whose results no cache holds: `{}`. */
export const INVALIDATES: { [M in StoreMethod]: Invalidates<M> } = {
  // Clients. An unknown client is not cached by the store wrappers, so creating one makes nothing
  // stale; the in-process client cache of the token endpoint expires its entries (`client_cache.ts`).
  createClient: NOTHING,
  getClient: NOTHING,
  listClients: NOTHING,
  deleteClient: { client: firstArgument, revocations: appendedWhenTrue },
  updateClient: { client: ([client]) => client.clientId },

  // Signing keys: any change of the set makes the cached list stale.
  insertKey: { keys: always },
  insertNewestKey: { keys: always },
  insertKeyUnlessSigning: { keys: (_args, inserted) => inserted },
  listKeys: NOTHING,
  getKey: NOTHING,
  retireKey: { keys: always },

  // Opaque access tokens. A token is cached only once found, so saving a new one makes nothing stale;
  // pruned tokens have expired, and an expired cached record is never returned.
  saveToken: NOTHING,
  findToken: NOTHING,
  revokeToken: { token: firstArgument, revocations: appendedWhenTrue },
  pruneTokens: NOTHING,

  // Revocation events. A `kid` event announces a change of the published keys.
  appendRevocation: {
    keys: ([event]: [RevocationInput]) => event.kind === 'kid',
    revocations: always,
  },
  isRevoked: NOTHING,
  listRevocations: NOTHING,
  pruneRevocations: NOTHING,
  prunedThrough: NOTHING,

  // Users: no cache holds user records; deleting a user revokes their sessions by an event.
  createUser: NOTHING,
  getUser: NOTHING,
  getUserByUsername: NOTHING,
  listUsers: NOTHING,
  setPasswordHash: NOTHING,
  setUserProfile: NOTHING,
  setUserAdmin: NOTHING,
  unlockLogins: NOTHING,
  getLoginsUnlockedAt: NOTHING,
  deleteUser: { revocations: appendedWhenTrue },

  // Logins, codes, sessions and refresh tokens: never cached; revoking appends events.
  createLogin: NOTHING,
  getLogin: NOTHING,
  deleteLogin: NOTHING,
  saveCode: NOTHING,
  redeemCode: NOTHING,
  createSession: NOTHING,
  getSession: NOTHING,
  listSessions: NOTHING,
  rotateRefreshToken: NOTHING,
  revokeSession: { revocations: appendedWhenTrue },
  revokeUserSessions: { revocations: (_args, ids) => ids.length > 0 },
  endLogin: { revocations: (_args, ids) => ids.length > 0 },
  getRefreshToken: NOTHING,
  pruneSessions: NOTHING,

  // Single-use values (assertion and proof ids, pushed requests): never cached, always the store's.
  useOnce: NOTHING,
  putPushed: NOTHING,
  takePushed: NOTHING,

  // Consents: never cached; revoking one ends sessions by `sid` events.
  grantConsent: NOTHING,
  getConsent: NOTHING,
  listConsents: NOTHING,
  revokeConsent: { revocations: (_args, result) => result.sessions.length > 0 },

  // The audit log: never cached.
  appendAudit: NOTHING,
  listAudit: NOTHING,
  pruneAudit: NOTHING,

  ping: NOTHING,
  close: NOTHING,
}

/** The methods whose `Invalidates` has a `kind` field, in table order. */
export function methodsInvalidating(kind: keyof Invalidates<StoreMethod>): StoreMethod[] {
  return (Object.keys(INVALIDATES) as StoreMethod[]).filter(
    (m) => INVALIDATES[m][kind] !== undefined,
  )
}

/**
 * The store, with `after(method, args, result)` awaited after each call of `methods`, once it has
 * resolved; the call's result is returned unchanged. Other methods are the store's own.
 */
export function afterWrites(
  store: Store,
  methods: readonly StoreMethod[],
  after: (method: StoreMethod, args: unknown[], result: unknown) => Promise<void> | void,
): Store {
  const wrapped: Store = Object.create(store) as Store
  const inner = store as unknown as Record<StoreMethod, (...args: unknown[]) => Promise<unknown>>
  const calls: Partial<typeof inner> = {}
  for (const method of methods) {
    calls[method] = async (...args: unknown[]) => {
      const result = await inner[method](...args)
      await after(method, args, result)
      return result
    }
  }
  return Object.assign(wrapped, calls)
}

/** What each kind of invalidation names. */
interface Invalidated {
  token: string | null
  client: string | null
  keys: boolean
  revocations: boolean
}

/** What `method`'s call made stale, of `kind`; `undefined` when the method never invalidates it. */
export function invalidated<K extends keyof Invalidated>(
  kind: K,
  method: StoreMethod,
  args: unknown[],
  result: unknown,
): Invalidated[K] | undefined {
  const rule = INVALIDATES[method][kind] as
    ((args: unknown[], result: unknown) => Invalidated[K]) | undefined
  return rule?.(args, result)
}

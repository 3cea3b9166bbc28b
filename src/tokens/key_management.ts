/**
 * Operator actions on signing keys, shared by the CLI and the server's first start: make sure a key
 * exists, rotate, retire.
 */
import { ConfigError } from '../errors.js'
import type { SigningAlg, SigningKeyRecord, Store } from '../store/types.js'
import { generateSigningKey, keyState, pickSigningKey } from './keys.js'

/** Access-token lifetime assumed when no client exists yet. */
export const DEFAULT_ACCESS_TOKEN_TTL = 300

/** How long after it stops signing a key must stay published: the longest access-token lifetime. */
export async function longestTokenLifetime(store: Store): Promise<number> {
  const clients = await store.listClients()
  return clients.reduce((max, c) => Math.max(max, c.accessTokenTtl), DEFAULT_ACCESS_TOKEN_TTL)
}

/**
 * Creates a signing key when none can sign at `now`, as on a first start. Returns the new key, or
 * `null` when one was already there (or another node added one first: concurrent starts add one).
 */
export async function ensureSigningKey(
  store: Store,
  options: { alg: SigningAlg; now: number; keyEncryptionSecret?: string | undefined },
): Promise<SigningKeyRecord | null> {
  const keys = await store.listKeys()
  if (pickSigningKey(keys, options.now)) return null
  const key = await generateSigningKey(options)
  // Nodes starting together on one empty database all get here: the store adds one key of theirs.
  return (await store.insertKeyUnlessSigning(key, options.now)) ? key : null
}

export interface RotateOptions {
  alg: SigningAlg
  now: number
  /**
   * Seconds between publication and first signature, so that resource servers have the key before they
   * see a token signed with it (the JWKS is cached for `Cache-Control: max-age`).
   */
  activateIn: number
  keyEncryptionSecret?: string | undefined
}

/**
 * Adds a new key that signs from `now + activateIn`; every older key stops signing then and stays
 * published for the longest access-token lifetime after it.
 */
export async function rotateSigningKey(
  store: Store,
  options: RotateOptions,
): Promise<SigningKeyRecord> {
  const activatesAt = options.now + options.activateIn
  const key = await generateSigningKey({ ...options, activatesAt })
  const keepFor = await longestTokenLifetime(store)
  await store.insertKey(key)
  await store.supersedeKeysExcept(key.kid, activatesAt, activatesAt + keepFor)
  return (await store.getKey(key.kid)) ?? key
}

/**
 * Withdraws a key at once: it leaves the JWKS and tokens it signed stop verifying. The key that signs
 * now cannot be retired (rotate first), or the server would be left without one. Records a `kid`
 * revocation so that resource servers following the feed drop it too.
 */
export async function retireSigningKey(
  store: Store,
  kid: string,
  now: number,
): Promise<SigningKeyRecord> {
  const keys = await store.listKeys()
  const key = keys.find((k) => k.kid === kid)
  if (!key) throw new ConfigError(`no signing key with kid ${kid}`)
  if (keyState(key, now) === 'retired')
    throw new ConfigError(`signing key ${kid} is already retired`)
  if (pickSigningKey(keys, now)?.kid === kid) {
    throw new ConfigError(
      `signing key ${kid} is the one signing now: run "latchkey keys rotate --activate-in 0" first`,
    )
  }
  await store.retireKey(kid, now)
  const keepFor = await longestTokenLifetime(store)
  await store.appendRevocation({
    kind: 'kid',
    value: kid,
    clientId: null,
    createdAt: now,
    expiresAt: Math.max(key.publishedUntil ?? 0, now + keepFor),
  })
  return (await store.getKey(kid)) ?? key
}

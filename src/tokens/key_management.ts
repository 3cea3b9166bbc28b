/**
 * Operator actions on signing keys, shared by the CLI and the server's first start: make sure a key
 * exists, rotate, retire.
 */
import { ConfigError } from '../errors.js'
import type { SigningAlg, SigningKeyRecord, Store } from '../store/types.js'
import { generateSigningKey, isSealed, openPrivateKey, pickSigningKey } from './keys.js'

/** Access-token lifetime assumed when no client exists yet. */
export const DEFAULT_ACCESS_TOKEN_TTL = 300

/**
 * Seconds a superseded key stays published beyond the longest access-token lifetime. A node keeps
 * signing with a key until it reloads the keys (`keyReloadMs`, at most 60 s; the Redis copy of the
 * list lives 1 s), and nodes' clocks may differ: tokens signed in that time expire before the key
 * leaves the JWKS.
 */
export const PUBLICATION_GRACE = 120

/** How long after it stops signing a key must stay published: the longest access-token lifetime. */
export async function longestTokenLifetime(store: Store): Promise<number> {
  const clients = await store.listClients()
  return clients.reduce((max, c) => Math.max(max, c.accessTokenTtl), DEFAULT_ACCESS_TOKEN_TTL)
}

/** What the store adds to `supersededAt` to get `publishedUntil`. */
async function publicationTail(store: Store): Promise<number> {
  return (await longestTokenLifetime(store)) + PUBLICATION_GRACE
}

/**
 * Refuses to add a key that would unseal a sealed database or seal under another secret: once any key
 * in the store is sealed, a new key needs `secret`, and `secret` must open the newest sealed key. A
 * database of plaintext keys accepts a sealed key (with the secret set, every key can be read back);
 * from then on it is a sealed database. Throws `ConfigError`; writes nothing.
 */
function checkSealing(keys: readonly SigningKeyRecord[], secret: string | undefined): void {
  const sealed = keys.filter((k) => isSealed(k.privateKey)).at(-1)
  if (!sealed) return
  if (!secret) {
    throw new ConfigError(
      'the signing keys in this database are encrypted: set LATCHKEY_KEY_ENCRYPTION_SECRET to add one',
    )
  }
  openPrivateKey(sealed, secret)
}

/**
 * Creates a signing key when none signs at `now`, as on a first start. Returns the new key, or `null`
 * when one was already there (or another node added one first: concurrent starts add one). Throws
 * `ConfigError`, adding nothing, when the key-encryption secret does not fit the stored keys.
 */
export async function ensureSigningKey(
  store: Store,
  options: { alg: SigningAlg; now: number; keyEncryptionSecret?: string | undefined },
): Promise<SigningKeyRecord | null> {
  const keys = await store.listKeys()
  if (pickSigningKey(keys, options.now)) return null
  checkSealing(keys, options.keyEncryptionSecret)
  const key = await generateSigningKey(options)
  const tail = await publicationTail(store)
  // Nodes starting together on one empty database all get here: the store adds one key of theirs.
  return (await store.insertKeyUnlessSigning(key, options.now, tail)) ? key : null
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
 * Adds a new key that signs from `now + activateIn`, as the newest key: the key signing then stops,
 * a key still pending then never signs, and each stays published for the longest access-token
 * lifetime (plus `PUBLICATION_GRACE`) after it stopped. Throws `ConfigError`, adding nothing, when
 * the key-encryption secret does not fit the stored keys.
 */
export async function rotateSigningKey(
  store: Store,
  options: RotateOptions,
): Promise<SigningKeyRecord> {
  checkSealing(await store.listKeys(), options.keyEncryptionSecret)
  const activatesAt = options.now + options.activateIn
  const key = await generateSigningKey({ ...options, activatesAt })
  await store.insertNewestKey(key, await publicationTail(store))
  return (await store.getKey(key.kid)) ?? key
}

/**
 * Withdraws a key at once: it leaves the JWKS and tokens it signed stop verifying. The key that signs
 * now cannot be retired (rotate first), or the server would be left without one. Retiring a pending
 * key cancels its rotation: the keys before it sign as if it had never been added. Records a `kid`
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
  if (key.retiredAt !== null) throw new ConfigError(`signing key ${kid} is already retired`)
  if (pickSigningKey(keys, now)?.kid === kid) {
    throw new ConfigError(
      `signing key ${kid} is the one signing now: run "latchkey keys rotate --activate-in 0" first`,
    )
  }
  const keepFor = await longestTokenLifetime(store)
  await store.retireKey(kid, now, keepFor + PUBLICATION_GRACE)
  await store.appendRevocation({
    kind: 'kid',
    value: kid,
    clientId: null,
    createdAt: now,
    expiresAt: Math.max(key.publishedUntil ?? 0, now + keepFor),
  })
  return (await store.getKey(kid)) ?? key
}

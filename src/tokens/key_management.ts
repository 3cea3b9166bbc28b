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
 * ID-token lifetime assumed when the caller does not say (the `idTokenSeconds` setting's default):
 * keys stay published at least this long after they stop signing.
 */
export const DEFAULT_ID_TOKEN_SECONDS = 3600

/** The algorithm of ID tokens when a client names none (OpenID Connect Registration §2). */
export const ID_TOKEN_DEFAULT_ALG: SigningAlg = 'RS256'

/**
 * Seconds a superseded key stays published beyond the longest access-token lifetime. A node keeps
 * signing with a key until it reloads the keys (`keyReloadMs`, at most 60 s; the Redis copy of the
 * list lives 1 s), and nodes' clocks may differ: tokens signed in that time expire before the key
 * leaves the JWKS.
 */
export const PUBLICATION_GRACE = 120

/**
 * How long after it stops signing a key must stay published: the longest lifetime of a token it may
 * have signed, an access token of any client or an ID token (`idTokenSeconds`, default
 * `DEFAULT_ID_TOKEN_SECONDS`: any lineage may sign ID tokens, for a client that asks for its alg).
 */
export async function longestTokenLifetime(
  store: Store,
  idTokenSeconds = DEFAULT_ID_TOKEN_SECONDS,
): Promise<number> {
  return Math.max(await longestAccessTokenLifetime(store), idTokenSeconds)
}

/**
 * The longest lifetime of an access token of any client: how long a revocation event must be kept
 * (it covers access tokens only; an ID token is not a credential an API accepts).
 */
export async function longestAccessTokenLifetime(store: Store): Promise<number> {
  const clients = await store.listClients()
  return clients.reduce((max, c) => Math.max(max, c.accessTokenTtl), DEFAULT_ACCESS_TOKEN_TTL)
}

/** What the store adds to `supersededAt` to get `publishedUntil`. */
async function publicationTail(store: Store, idTokenSeconds: number | undefined): Promise<number> {
  return (await longestTokenLifetime(store, idTokenSeconds)) + PUBLICATION_GRACE
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

export interface EnsureOptions {
  alg: SigningAlg
  now: number
  keyEncryptionSecret?: string | undefined
  /** The ID-token lifetime, seconds (see `longestTokenLifetime`). */
  idTokenSeconds?: number | undefined
}

/**
 * Creates a signing key of `alg` when none of that alg signs at `now`, as on a first start. Returns
 * the new key, or `null` when one was already there (or another node added one first: concurrent
 * starts add one). Throws `ConfigError`, adding nothing, when the key-encryption secret does not fit
 * the stored keys.
 */
export async function ensureSigningKey(
  store: Store,
  options: EnsureOptions,
): Promise<SigningKeyRecord | null> {
  const keys = await store.listKeys()
  if (pickSigningKey(keys, options.now, options.alg)) return null
  checkSealing(keys, options.keyEncryptionSecret)
  const key = await generateSigningKey(options)
  const tail = await publicationTail(store, options.idTokenSeconds)
  // Nodes starting together on one empty database all get here: the store adds one key of theirs.
  // The check is made at the time of the insert, not of the start: an RSA key can take a second or
  // more to generate under load, while another node's key, activating at its own later start, would
  // not yet sign at this node's earlier one, and both nodes would add a key.
  const checkedAt = Math.max(options.now, Math.floor(Date.now() / 1000))
  return (await store.insertKeyUnlessSigning(key, checkedAt, tail)) ? key : null
}

/**
 * What a server needs to sign: a key for access tokens (`alg`, the signing-alg setting) and one for
 * ID tokens of the OpenID Connect default, RS256 (the same key when `alg` is RS256). Creates those
 * missing, sealed alike, and returns the keys it created.
 */
export async function ensureSigningKeys(
  store: Store,
  options: EnsureOptions,
): Promise<SigningKeyRecord[]> {
  const created: SigningKeyRecord[] = []
  for (const alg of new Set([options.alg, ID_TOKEN_DEFAULT_ALG])) {
    const key = await ensureSigningKey(store, { ...options, alg })
    if (key) created.push(key)
  }
  return created
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
  /** The ID-token lifetime, seconds (see `longestTokenLifetime`). */
  idTokenSeconds?: number | undefined
}

/**
 * Adds a new key of `alg` that signs from `now + activateIn`, as the newest key of that alg: the key
 * of that alg signing then stops, one of that alg still pending then never signs, and each stays
 * published for the longest token lifetime (plus `PUBLICATION_GRACE`) after it stopped. Keys of other
 * algs are left as they are. Throws `ConfigError`, adding nothing, when the key-encryption secret
 * does not fit the stored keys.
 */
export async function rotateSigningKey(
  store: Store,
  options: RotateOptions,
): Promise<SigningKeyRecord> {
  checkSealing(await store.listKeys(), options.keyEncryptionSecret)
  const activatesAt = options.now + options.activateIn
  const key = await generateSigningKey({ ...options, activatesAt })
  await store.insertNewestKey(key, await publicationTail(store, options.idTokenSeconds))
  return (await store.getKey(key.kid)) ?? key
}

/**
 * Withdraws a key at once: it leaves the JWKS and tokens it signed stop verifying. A key that signs
 * now for its alg cannot be retired (rotate that alg first), or the server would be left without one.
 * Retiring a pending key cancels its rotation: the keys of its alg before it sign as if it had never
 * been added. Records a `kid` revocation so that resource servers following the feed drop it too.
 */
export async function retireSigningKey(
  store: Store,
  kid: string,
  now: number,
  idTokenSeconds?: number,
): Promise<SigningKeyRecord> {
  const keys = await store.listKeys()
  const key = keys.find((k) => k.kid === kid)
  if (!key) throw new ConfigError(`no signing key with kid ${kid}`)
  if (key.retiredAt !== null) throw new ConfigError(`signing key ${kid} is already retired`)
  if (pickSigningKey(keys, now, key.alg)?.kid === kid) {
    throw new ConfigError(
      `signing key ${kid} is the ${key.alg} key signing now: run "latchkey keys rotate --alg ${key.alg} --activate-in 0" first`,
    )
  }
  const keepFor = await longestTokenLifetime(store, idTokenSeconds)
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

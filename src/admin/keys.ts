/**
 * The signing keys: the operations behind `latchkey keys list|rotate|retire` and the programmatic
 * API. Private keys are never returned.
 */
import { recordAudit, SERVER_ACTOR, type AuditContext } from '../audit/record.js'
import { UsageError } from '../errors.js'
import { SIGNING_ALGS, type SigningAlg, type SigningKeyRecord, type Store } from '../store/types.js'
import { retireSigningKey, rotateSigningKey } from '../tokens/key_management.js'
import { isSealed, keyState, type KeyState } from '../tokens/keys.js'

const now = (): number => Math.floor(Date.now() / 1000)
const iso = (t: number | null): string | null =>
  t === null ? null : new Date(t * 1000).toISOString()

/** A signing key as listed: public facts only. Times are ISO 8601, `null` when not (yet) set. */
export interface KeyJSON {
  kid: string
  alg: SigningAlg
  state: KeyState
  created_at: string | null
  activates_at: string | null
  superseded_at: string | null
  published_until: string | null
  retired_at: string | null
  /** Whether its private key is sealed with the key-encryption secret. */
  encrypted: boolean
}

/** `k` as listed: its state is decided among `keys`, every key in the store (see `keyState`). */
export function keyJSON(
  k: SigningKeyRecord,
  keys: readonly SigningKeyRecord[],
  at: number,
): KeyJSON {
  return {
    kid: k.kid,
    alg: k.alg,
    state: keyState(k, keys, at),
    created_at: iso(k.createdAt),
    activates_at: iso(k.activatesAt),
    superseded_at: iso(k.supersededAt),
    published_until: iso(k.publishedUntil),
    retired_at: iso(k.retiredAt),
    encrypted: isSealed(k.privateKey),
  }
}

/** Every signing key and its state. */
export async function listKeys(store: Store): Promise<KeyJSON[]> {
  const at = now()
  const keys = await store.listKeys()
  return keys.map((k) => keyJSON(k, keys, at))
}

export interface RotateKeyOptions {
  /** ES256 (default), RS256, PS256 or EdDSA. */
  alg?: string
  /** Seconds before it signs, so that caches of the JWKS see it first (default 60). */
  activateIn?: string | number
  /** Seals the new private key, as the server's `keyEncryptionSecret` does. */
  keyEncryptionSecret?: string
  /** The server's ID-token lifetime, seconds: superseded keys stay published at least this long. */
  idTokenSeconds?: number
}

/** Checks the algorithm and delay of a rotation; throws `UsageError`. */
export function checkRotation(o: RotateKeyOptions): { alg: SigningAlg; activateIn: number } {
  const alg = (o.alg ?? 'ES256') as SigningAlg
  if (!SIGNING_ALGS.includes(alg)) {
    throw new UsageError(`--alg must be one of ${SIGNING_ALGS.join(', ')}`)
  }
  const activateIn = o.activateIn === undefined ? 60 : Number(o.activateIn)
  if (!Number.isInteger(activateIn) || activateIn < 0 || activateIn > 30 * 86_400) {
    throw new UsageError('--activate-in must be a whole number of seconds (0 to 2592000)')
  }
  return { alg, activateIn }
}

/**
 * Adds a signing key to the lineage of its alg, published at once and signing after `activateIn`
 * seconds; a running server picks it up within its `keyReloadMs`. The keys of other algs are left as
 * they are: rotating the access-token alg's lineage changes the access-token key, rotating another
 * alg's changes the key of the ID tokens signed with that alg. Throws `UsageError` for an unknown
 * `alg` or delay.
 */
export async function rotateKey(
  store: Store,
  o: RotateKeyOptions = {},
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<KeyJSON> {
  const { alg, activateIn } = checkRotation(o)
  const at = now()
  const key = await rotateSigningKey(store, {
    alg,
    now: at,
    activateIn,
    keyEncryptionSecret: o.keyEncryptionSecret || undefined,
    idTokenSeconds: o.idTokenSeconds,
  })
  await recordAudit(store, by, {
    kind: 'key.rotated',
    subject: key.kid,
    details: { alg: key.alg, activates_at: key.activatesAt },
  })
  return keyJSON(key, await store.listKeys(), at)
}

/** Withdraws a key now: unpublished, and the tokens it signed refused. */
export async function retireKey(
  store: Store,
  kid: string,
  idTokenSeconds?: number,
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<KeyJSON> {
  const at = now()
  const key = await retireSigningKey(store, kid, at, idTokenSeconds)
  await recordAudit(store, by, { kind: 'key.retired', subject: key.kid, details: { alg: key.alg } })
  return keyJSON(key, await store.listKeys(), at)
}

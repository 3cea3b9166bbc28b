/**
 * Signing keys: generated with `node:crypto`, described with `jose` (JWK export, RFC 7638 thumbprint),
 * stored as PKCS#8 PEM, sealed with AES-256-GCM when a key-encryption secret is configured.
 *
 * The life of keys follows one rule, from which signing, listing, publication and retirement derive.
 * The rule holds per algorithm: the keys of one `alg` form a lineage of their own (ES256 access
 * tokens beside RS256 ID tokens, OpenID Connect Core §3.1.3.7), and a key of one alg never supersedes
 * a key of another. Within a lineage, keys are ordered by when they were added (rotation adds the
 * newest). A key signs from `activatesAt` until `supersededAt`, the earliest `activatesAt` among the
 * unretired keys of its alg added after it; so at any instant the key that signs for an alg is the
 * newest unretired key of that alg that has activated, and a newer rotation wins over an older one
 * still pending (which then never signs). The store keeps `supersededAt` by this rule at every key
 * write (`KeyStore.insertNewestKey`, `retireKey`), and a key stays published until `publishedUntil`:
 * `supersededAt` plus the longest token lifetime (access or ID token) plus a grace (see
 * `key_management.ts`), so every token it signed expires before it leaves the JWKS. Retiring withdraws
 * a key and its tokens at once; a key signing now for its alg cannot be retired.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  generateKeyPair as generateKeyPairCallback,
  randomBytes,
  scryptSync,
  type KeyObject,
} from 'node:crypto'
import { promisify } from 'node:util'
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose'
import { ConfigError } from '../errors.js'
import type { SigningAlg, SigningKeyRecord } from '../store/types.js'

const generateKeyPair = promisify(generateKeyPairCallback)

const SEALED_PREFIX = 'sealed:v1:'

async function generatePair(
  alg: SigningAlg,
): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  switch (alg) {
    case 'ES256':
      return generateKeyPair('ec', { namedCurve: 'P-256' })
    case 'RS256':
    case 'PS256':
      return generateKeyPair('rsa', { modulusLength: 2048 })
    case 'EdDSA':
      return generateKeyPair('ed25519')
  }
}

export interface NewKeyOptions {
  alg: SigningAlg
  now: number
  /** When it may start signing; defaults to `now`. */
  activatesAt?: number
  /** Key-encryption secret; when set, the private key is stored sealed. */
  keyEncryptionSecret?: string | undefined
}

/** A new signing key, ready for `KeyStore.insertKey`. */
export async function generateSigningKey(options: NewKeyOptions): Promise<SigningKeyRecord> {
  const { privateKey, publicKey } = await generatePair(options.alg)
  const jwk = await exportJWK(publicKey)
  const kid = await calculateJwkThumbprint(jwk, 'sha256')
  const publicJwk: JWK = { ...jwk, kid, alg: options.alg, use: 'sig' }
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  return {
    kid,
    alg: options.alg,
    publicJwk,
    privateKey: options.keyEncryptionSecret
      ? sealPrivateKey(pem, kid, options.keyEncryptionSecret)
      : pem,
    createdAt: options.now,
    activatesAt: options.activatesAt ?? options.now,
    supersededAt: null,
    publishedUntil: null,
    retiredAt: null,
  }
}

function deriveKek(secret: string, salt: Buffer): Buffer {
  // scrypt, not a bare hash: the secret may be a passphrase. Runs once per key at start-up.
  return scryptSync(secret, salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 })
}

/**
 * Seals a PEM private key with AES-256-GCM under a key derived from `secret`, bound to `kid` as
 * associated data so a sealed key cannot be swapped onto another record.
 */
function sealPrivateKey(pem: string, kid: string, secret: string): string {
  const salt = randomBytes(16)
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', deriveKek(secret, salt), iv)
  cipher.setAAD(Buffer.from(kid))
  const ciphertext = Buffer.concat([cipher.update(pem, 'utf8'), cipher.final()])
  const parts = [salt, iv, cipher.getAuthTag(), ciphertext].map((b) => b.toString('base64url'))
  return SEALED_PREFIX + parts.join(':')
}

/** Whether a stored private key is sealed. */
export function isSealed(stored: string): boolean {
  return stored.startsWith(SEALED_PREFIX)
}

/**
 * The private key of a record, unsealed with `secret` when it is sealed. Throws `ConfigError` when a
 * sealed key has no secret or the wrong one.
 */
export function openPrivateKey(record: SigningKeyRecord, secret: string | undefined): KeyObject {
  if (!isSealed(record.privateKey)) return createPrivateKey(record.privateKey)
  if (!secret) {
    throw new ConfigError(
      `signing key ${record.kid} is encrypted: set LATCHKEY_KEY_ENCRYPTION_SECRET to open it`,
    )
  }
  const [salt, iv, tag, ciphertext] = record.privateKey
    .slice(SEALED_PREFIX.length)
    .split(':')
    .map((p) => Buffer.from(p, 'base64url'))
  if (!salt || !iv || !tag || !ciphertext) {
    throw new ConfigError(`signing key ${record.kid} is sealed in an unknown format`)
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', deriveKek(secret, salt), iv)
    decipher.setAAD(Buffer.from(record.kid))
    decipher.setAuthTag(tag)
    const pem = Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8')
    return createPrivateKey(pem)
  } catch (cause) {
    throw new ConfigError(
      `LATCHKEY_KEY_ENCRYPTION_SECRET does not open signing key ${record.kid}`,
      { cause },
    )
  }
}

/** Lifecycle state of a key at `now`, for listings. */
export type KeyState = 'pending' | 'active' | 'superseded' | 'expired' | 'retired'

/** Whether `key` signs at `now` by its own dates: unretired, activated, not yet superseded. */
function signsAt(key: SigningKeyRecord, now: number): boolean {
  return (
    key.retiredAt === null &&
    key.activatesAt <= now &&
    (key.supersededAt === null || key.supersededAt > now)
  )
}

/**
 * The key of `alg` that signs at `now`: the unretired key of that alg with `activatesAt <= now <
 * supersededAt`, of which the store's key writes leave exactly one per alg once a first key of it
 * activated (the newest added, should a store ever hold two). `undefined` when there is none.
 */
export function pickSigningKey(
  keys: readonly SigningKeyRecord[],
  now: number,
  alg: SigningAlg,
): SigningKeyRecord | undefined {
  let signing: SigningKeyRecord | undefined
  for (const key of keys) if (key.alg === alg && signsAt(key, now)) signing = key
  return signing
}

/**
 * The state of `key` among `keys` (all of them, as listed by the store) at `now`, within its alg's
 * lineage: `active` for the one key `pickSigningKey` picks for its alg and no other; `pending` for a
 * key due to sign later; `superseded` for a key that no longer signs (or never will) but is still
 * published.
 */
export function keyState(
  key: SigningKeyRecord,
  keys: readonly SigningKeyRecord[],
  now: number,
): KeyState {
  if (key.retiredAt !== null) return 'retired'
  if (key.publishedUntil !== null && key.publishedUntil <= now) return 'expired'
  if (pickSigningKey(keys, now, key.alg)?.kid === key.kid) return 'active'
  const willSign = key.supersededAt === null || key.supersededAt > key.activatesAt
  if (key.activatesAt > now && willSign) return 'pending'
  return 'superseded'
}

/** Whether the key belongs in the JWKS at `now`: not retired, and not past `publishedUntil`. */
export function isPublished(key: SigningKeyRecord, now: number): boolean {
  return key.retiredAt === null && (key.publishedUntil === null || key.publishedUntil > now)
}

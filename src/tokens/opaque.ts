/**
 * Opaque tokens: 256 bits from the system CSPRNG, base64url-encoded, stored only as a SHA-256 hash.
 * A plain hash suffices because the token carries 256 bits of entropy: there is nothing to guess.
 * Lookups go by the hash, so the database never compares token material (lucia's session-token scheme).
 */
import { randomBytes } from 'node:crypto'
import { hashOpaqueToken } from '@latchkey/verifier/revocation'

// The hash is the verifier's (the revocation feed names an opaque token by it): one implementation.
export { hashOpaqueToken }

/** Bytes of randomness in every opaque token. */
const OPAQUE_TOKEN_BYTES = 32

// 43 characters carry 258 bits: the last character's two low bits are unused and must be zero, so a
// token has one string (the store is keyed by the hash of the string, so another spelling would miss
// anyway; refusing it outright keeps the shape check exact and the store untouched).
const shape = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/

export interface OpaqueToken {
  /** The token as given to the client. Never stored, never logged. */
  token: string
  /** What the store keeps. */
  hash: string
}

/** A fresh opaque token and its hash. */
export function generateOpaqueToken(): OpaqueToken {
  const token = randomBytes(OPAQUE_TOKEN_BYTES).toString('base64url')
  return { token, hash: hashOpaqueToken(token) }
}

/**
 * Whether `token` has the shape of a token this server generates. Does not say it is live: look its
 * hash up for that. Lets callers refuse junk without touching the store.
 */
export function looksOpaque(token: string): boolean {
  return shape.test(token)
}

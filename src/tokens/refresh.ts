/**
 * Refresh tokens: opaque (256 bits, stored by hash) and rotated on every use. When a token is rotated,
 * its successor is kept sealed under a key derived from the token itself (HKDF-SHA-256, then
 * AES-256-GCM), so a client that retries with the same token inside the grace window can be given the
 * successor it already got, not a second lineage, while the database alone never yields a usable token.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto'

const INFO = Buffer.from('latchkey refresh-token successor v1')

function keyFrom(token: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(token), Buffer.alloc(0), INFO, 32))
}

/** Seals `successor` so that only a holder of `token` can open it. */
export function sealSuccessor(token: string, successor: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', keyFrom(token), iv)
  const ciphertext = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')
}

/** Opens what `sealSuccessor(token, …)` sealed; `null` when `token` is not the one it was sealed for. */
export function openSuccessor(token: string, sealed: string): string | null {
  const raw = Buffer.from(sealed, 'base64url')
  if (raw.length < 29) return null
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFrom(token), raw.subarray(0, 12))
    decipher.setAuthTag(raw.subarray(12, 28))
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
  } catch {
    return null
  }
}

/** Characters of a PKCE code_verifier (RFC 7636 §4.1): 43-128 of the unreserved set. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/

/** Whether `verifier` is well formed (RFC 7636 §4.1). */
export function isCodeVerifier(verifier: string): boolean {
  return VERIFIER.test(verifier)
}

/**
 * Whether `verifier` matches an S256 `challenge` (RFC 7636 §4.6), compared in constant time. Does not
 * check the verifier's form: call `isCodeVerifier` first.
 */
export function checkPkceS256(verifier: string, challenge: string): boolean {
  const computed = createHash('sha256').update(verifier, 'ascii').digest()
  const expected = Buffer.from(challenge, 'base64url')
  return expected.length === computed.length && timingSafeEqual(computed, expected)
}

/**
 * DPoP proofs for the `token-dpop` case, made in the load generator (never by the measured server):
 * one P-256 key per case, its header encoded once, and per request a payload with a fresh `jti` and
 * `iat`, signed with `node:crypto` (about 30 µs, a small share of what the load generator spends per
 * request). Each request needs its own proof: the server refuses a `jti` it has seen (RFC 9449 §11.1).
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { lowS } from '@latchkey/verifier/jwt'

export interface ProofSource {
  /** The thumbprint-bearing public key's proofs for `POST htu`, one new proof per call. */
  next(): string
}

const b64u = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A client key and its proofs for `POST htu`. */
export function dpopProofSource(htu: string): ProofSource {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' })
  const header = b64u({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })
  // 96 random bits per source, then a counter: unique, as the server requires.
  const prefix = randomBytes(12).toString('base64url')
  let counter = 0
  const key: { key: KeyObject; dsaEncoding: 'ieee-p1363' } = {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  }
  return {
    next(): string {
      const payload = b64u({
        jti: `${prefix}${(counter++).toString(36)}`,
        htm: 'POST',
        htu,
        iat: Math.floor(Date.now() / 1000),
      })
      const input = `${header}.${payload}`
      const signature = sign('sha256', Buffer.from(input), key)
      lowS(signature)
      return `${input}.${signature.toString('base64url')}`
    },
  }
}

/**
 * JWT access tokens (RFC 9068) signed on `node:crypto` directly: the hot path of the token endpoint.
 * Checking a token (`decodeJWT`, `JWTVerificationKey`, `verifyAccessToken`, the canonical-encoding
 * rules) is the verifier package's (`@latchkey/verifier/jwt`), re-exported here: one implementation for
 * the server and every resource server. `jose` stays the reference for key import/export and is used by
 * the tests to cross-verify every token this module signs.
 *
 * A signature is issued in its one canonical form: an ES256 signature with a low `s` (the verifier
 * refuses a high one).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068
 * @see https://www.rfc-editor.org/rfc/rfc8725
 */
import { sign, type KeyObject } from 'node:crypto'
import {
  algParams,
  lowS,
  type AccessTokenClaims,
  type KeyWithOptions,
  type SigningAlg,
} from '@latchkey/verifier/jwt'

export * from '@latchkey/verifier/jwt'

/** Signs access tokens with one private key; the header is encoded once. */
export class JWTSigner {
  readonly kid: string
  readonly alg: SigningAlg
  private readonly headerSegment: string
  private readonly digest: string | null
  /** Built once: `node:crypto` takes the key and its options as one object. */
  private readonly key: KeyWithOptions

  constructor(privateKey: KeyObject, kid: string, alg: SigningAlg) {
    this.kid = kid
    this.alg = alg
    const params = algParams(alg)
    this.digest = params.digest
    this.key = { key: privateKey, ...params.options }
    this.headerSegment = Buffer.from(JSON.stringify({ alg, typ: 'at+jwt', kid })).toString(
      'base64url',
    )
  }

  /**
   * A compact JWS of `claims`. The signature is computed on libuv's thread pool, not the event loop:
   * measured here, a token endpoint that signs asynchronously serves about twice the requests of one
   * that signs inline, because signing then runs on both cores. Does not check the claims.
   */
  sign(claims: AccessTokenClaims): Promise<string> {
    return this.signInput(this.headerSegment, claims)
  }

  /**
   * A compact JWS of `claims` whose header has `typ` (explicit typing, RFC 8725 §3.11), for the other
   * JWTs the server signs with its access-token key, such as an introspection response (RFC 9701 §5).
   * Does not check the claims; the caller keeps them apart from an access token's.
   */
  signTyped(typ: string, claims: Record<string, unknown>): Promise<string> {
    const header = { alg: this.alg, typ, kid: this.kid }
    return this.signInput(Buffer.from(JSON.stringify(header)).toString('base64url'), claims)
  }

  private signInput(headerSegment: string, claims: object): Promise<string> {
    const input = `${headerSegment}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
    return new Promise((resolve, reject) => {
      sign(this.digest, Buffer.from(input), this.key, (err, signature) => {
        if (err) reject(err)
        else {
          if (this.alg === 'ES256') lowS(signature)
          resolve(`${input}.${signature.toString('base64url')}`)
        }
      })
    })
  }
}

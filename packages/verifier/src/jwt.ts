/**
 * `@latchkey/verifier/jwt`: checking JWT access tokens (RFC 9068) on `node:crypto` directly, the one
 * implementation shared by this SDK and the Latchkey server (which signs with the same parameters, and
 * checks its own tokens at introspection with this code). Not part of the SDK's stable API: a resource
 * server uses `createVerifier`.
 *
 * The algorithm is pinned by the key: a key is created for one algorithm, and a token whose header names
 * any other is refused before any signature check. The header is parsed against an allow-list (`alg`,
 * `kid`, `typ`), so `jwk`, `jku`, `x5u`, `x5c`, `crit`, `b64`, `enc` … are refused, never followed.
 *
 * A token has exactly one string: anything keyed by the string (a deny-list, a verifier's cache) must
 * not be bypassed by another spelling of the same token. So every segment must be canonical base64url
 * (no padding, no unused bits set in its last character), a signature must have its algorithm's exact
 * length (OpenSSL accepts an RSA-PSS signature without its leading zero byte), and an ECDSA signature
 * must have a low `s` (`s ≤ n/2`; `n − s` verifies too, so high `s` is refused and never issued).
 * Ed25519 needs nothing more: OpenSSL refuses `s ≥ L` (RFC 8032 §5.1.7).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068
 * @see https://www.rfc-editor.org/rfc/rfc8725
 */
import { constants, createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto'

/** The signing algorithms of access tokens: the only ones a key may be made for. */
export type SigningAlg = 'ES256' | 'RS256' | 'PS256' | 'EdDSA'
export const SIGNING_ALGS: readonly SigningAlg[] = ['ES256', 'RS256', 'PS256', 'EdDSA']

/** A public JSON Web Key as the JWKS serves it (RFC 7517 §4); members are checked where they are used. */
export interface JWK {
  kty?: string
  crv?: string
  kid?: string
  alg?: string
  use?: string
  [member: string]: unknown
}

/** Refuse anything longer before parsing: bounded CPU for junk. */
export const MAX_JWT_LENGTH = 8192

const SEGMENT = /^[A-Za-z0-9_-]+$/
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
/** The order of the P-256 group, and half of it: an ES256 signature's `s` must not exceed `n/2`. */
const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')
const P256_HALF_N = Buffer.from((P256_N >> 1n).toString(16).padStart(64, '0'), 'hex')
const KID = /^[A-Za-z0-9_-]{1,128}$/
const ALLOWED_HEADER = new Set(['alg', 'kid', 'typ'])

export interface AccessTokenClaims {
  iss: string
  sub: string
  aud: string | string[]
  exp: number
  iat: number
  jti: string
  client_id: string
  scope?: string
  sid?: string
  /**
   * The key the token is bound to (RFC 7800 §3.1): `jkt`, the SHA-256 thumbprint of a DPoP key
   * (RFC 9449 §6.1). Such a token is accepted only with a proof signed by that key.
   */
  cnf?: Confirmation
  [claim: string]: unknown
}

/** A `cnf` claim (RFC 7800 §3.1); `jkt` is the only method checked here (RFC 9449 §6.1). */
export interface Confirmation {
  jkt?: string
  [method: string]: unknown
}

/** Whether `v` is a `cnf` object whose `jkt`, if present, is a string. */
export function isConfirmation(v: unknown): v is Confirmation {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const jkt = (v as Record<string, unknown>).jkt
  return jkt === undefined || (typeof jkt === 'string' && jkt !== '')
}

/** How `node:crypto` signs and verifies for one algorithm: the digest and the key's options. */
export interface AlgParams {
  digest: string | null
  options: Partial<{ dsaEncoding: 'ieee-p1363'; padding: number; saltLength: number }>
}

/** What `sign` and `verify` of `node:crypto` take as the key: the key with its algorithm's options. */
export type KeyWithOptions = AlgParams['options'] & { key: KeyObject }

/** The digest and key options of `alg` for `node:crypto`'s `sign` and `verify`. */
export function algParams(alg: SigningAlg): AlgParams {
  switch (alg) {
    case 'ES256':
      // JWS signatures are r || s (RFC 7518 §3.4), not DER.
      return { digest: 'sha256', options: { dsaEncoding: 'ieee-p1363' } }
    case 'RS256':
      return { digest: 'sha256', options: { padding: constants.RSA_PKCS1_PADDING } }
    case 'PS256':
      return {
        digest: 'sha256',
        options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      }
    case 'EdDSA':
      return { digest: null, options: {} }
  }
}

/**
 * Rewrites an ES256 signature `r || s` in place to its low-S form: `s` becomes `n − s` when `s > n/2`.
 * Both verify; only the low one is canonical (the form Bitcoin's BIP 62 and libsecp256k1 require), and
 * `node:crypto` returns either.
 */
export function lowS(signature: Buffer): void {
  const s = signature.subarray(32, 64)
  if (s.compare(P256_HALF_N) <= 0) return
  const low = (P256_N - BigInt(`0x${s.toString('hex')}`)).toString(16).padStart(64, '0')
  s.set(Buffer.from(low, 'hex'))
}

/** Whether an ES256 signature's `s` is at most `n/2`. */
export function isLowS(signature: Buffer): boolean {
  return signature.subarray(32, 64).compare(P256_HALF_N) <= 0
}

/** The exact length of a signature by `key` for `alg`: RFC 7518 §3.4 (ECDSA), §3.3 (RSA), RFC 8037. */
export function signatureLength(alg: SigningAlg, key: KeyObject): number {
  switch (alg) {
    case 'ES256':
    case 'EdDSA':
      return 64
    case 'RS256':
    case 'PS256':
      return Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8)
  }
}

/** What checking a key's signatures takes: its digest, and the key with its algorithm's options. */
export interface VerifyParams {
  digest: string | null
  key: KeyWithOptions
}

/**
 * Whether `signature` is the signature of `input` by `params`' key, on the calling thread: the one
 * `node:crypto` call of `verifySync` and of the SDK's signature thread. A signature of the wrong
 * length or encoding is simply not valid.
 */
export function verifyWith(params: VerifyParams, input: string, signature: Uint8Array): boolean {
  try {
    return verify(params.digest, Buffer.from(input), params.key, signature)
  } catch {
    return false
  }
}

/** A public key that verifies tokens of exactly one algorithm. */
export class JWTVerificationKey {
  readonly kid: string
  readonly alg: SigningAlg
  private readonly digest: string | null
  /** Built once: `node:crypto` takes the key and its options as one object. */
  private readonly key: KeyWithOptions
  private readonly signatureLength: number

  constructor(publicJwk: JWK, alg: SigningAlg) {
    if (typeof publicJwk.kid !== 'string') throw new TypeError('publicJwk.kid must be a string')
    this.kid = publicJwk.kid
    this.alg = alg
    const params = algParams(alg)
    this.digest = params.digest
    const key = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' })
    this.key = { key, ...params.options }
    this.signatureLength = signatureLength(alg, key)
  }

  /** What checking this key's signatures takes, as `verifySync` passes it to `node:crypto`. */
  get params(): VerifyParams {
    return { digest: this.digest, key: this.key }
  }

  /**
   * Whether `signature` has the one encoding this key's valid signatures may have: the exact length,
   * and for ECDSA a low `s`. Checked before the signature itself, so a non-canonical variant of a
   * valid signature is refused.
   */
  isCanonical(signature: Buffer): boolean {
    if (signature.length !== this.signatureLength) return false
    return this.alg !== 'ES256' || isLowS(signature)
  }

  /**
   * Whether `signature` is this key's signature of `input`, computed on the calling thread: no thread
   * pool round trip, for callers that verify one token at a time (the verifier SDK by default).
   */
  verifySync(input: string, signature: Buffer): boolean {
    return this.isCanonical(signature) && verifyWith(this.params, input, signature)
  }

  /** Whether `signature` is this key's signature of `input`; computed on libuv's thread pool. */
  verify(input: string, signature: Buffer): Promise<boolean> {
    if (!this.isCanonical(signature)) return Promise.resolve(false)
    return new Promise((resolve) => {
      try {
        verify(this.digest, Buffer.from(input), this.key, signature, (err, ok) =>
          resolve(!err && ok),
        )
      } catch {
        // A signature of the wrong length or encoding is simply not valid.
        resolve(false)
      }
    })
  }
}

/** Why a JWT was refused; the text is safe to show (no token material). */
export class JWTInvalid extends Error {
  override readonly name = 'JWTInvalid'
}

export interface DecodedJWT {
  header: { alg: string; kid: string; typ?: string }
  payload: Record<string, unknown>
  /** `header.payload`, the signed input. */
  signingInput: string
  signature: Buffer
}

/**
 * Whether `segment` (already known to be in the base64url alphabet) is the one unpadded base64url
 * encoding of its bytes: a length that is not 1 mod 4, and no bits set in the last character beyond
 * those that carry data (RFC 4648 §3.5: the pad bits must be zero, or two strings mean one value).
 */
export function isCanonicalBase64url(segment: string): boolean {
  const unused = [0, -1, 4, 2][segment.length % 4]!
  if (unused < 0) return false
  if (unused === 0) return true
  const last = BASE64URL.indexOf(segment[segment.length - 1]!)
  return (last & ((1 << unused) - 1)) === 0
}

function parseJSONObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    throw new JWTInvalid(`${what} is not base64url JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JWTInvalid(`${what} is not a JSON object`)
  }
  return value as Record<string, unknown>
}

/**
 * Splits and parses a compact JWS without checking its signature. Refuses, with bounded work: anything
 * that is not three non-empty canonical base64url segments (so JWE and nested tokens, padding, `+`,
 * `/`, whitespace, unused bits set in a last character), headers with any parameter
 * beyond `alg`, `kid`, `typ`, a non-string or path-like `kid`, and `alg` other than a signing algorithm.
 */
export function decodeJWT(token: string): DecodedJWT {
  if (token.length > MAX_JWT_LENGTH) throw new JWTInvalid('token is too long')
  const parts = token.split('.')
  if (parts.length !== 3) throw new JWTInvalid('not a compact JWS')
  const [h, p, s] = parts as [string, string, string]
  if (!SEGMENT.test(h) || !SEGMENT.test(p) || !SEGMENT.test(s)) {
    throw new JWTInvalid('a segment is empty or not base64url')
  }
  if (!isCanonicalBase64url(h) || !isCanonicalBase64url(p) || !isCanonicalBase64url(s)) {
    throw new JWTInvalid('a segment is not canonical base64url')
  }
  const header = parseJSONObject(h, 'header')
  for (const name of Object.keys(header)) {
    // RFC 8725 §3.1, RFC 7515 §4.1.11: unknown or critical parameters are refused, never followed.
    if (!ALLOWED_HEADER.has(name))
      throw new JWTInvalid(`header parameter "${name}" is not accepted`)
  }
  const { alg, kid, typ } = header
  if (typeof alg !== 'string') throw new JWTInvalid('alg is missing')
  if (typeof kid !== 'string' || !KID.test(kid)) throw new JWTInvalid('kid is missing or malformed')
  if (typ !== undefined && typeof typ !== 'string') throw new JWTInvalid('typ is not a string')
  const payload = parseJSONObject(p, 'payload')
  return {
    header: typ === undefined ? { alg, kid } : { alg, kid, typ },
    payload,
    signingInput: `${h}.${p}`,
    signature: Buffer.from(s, 'base64url'),
  }
}

/** RFC 9068 §4: `typ` must be `at+jwt` (media types compare case-insensitively). */
export function isAccessTokenType(typ: string | undefined): boolean {
  if (typ === undefined) return false
  const t = typ.toLowerCase()
  return t === 'at+jwt' || t === 'application/at+jwt'
}

export interface VerifyOptions {
  /** Expected `iss`. */
  issuer: string
  /** Expected audience, when the caller has one: `aud` must be or contain it. */
  audience?: string | undefined
  /** Seconds since the epoch. */
  now: number
  /** Allowed clock skew in seconds for `nbf` and `iat` (and `exp`, unless `expLeeway` is given). */
  leeway: number
  /**
   * Skew allowed past `exp`. The issuer checking its own tokens passes 0: it is the clock that set
   * `exp`, so a token is dead at its `exp` exactly; a resource server with its own clock allows some.
   */
  expLeeway?: number
}

function isNumericDate(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 1e11
}

export interface VerifiedAccessToken {
  claims: AccessTokenClaims
  /** The key that signed it. */
  kid: string
}

/**
 * Verifies a JWT access token: shape, header allow-list, `kid` lookup, `alg` equal to the key's,
 * signature, `typ`, `iss`, `aud`, `exp`, `nbf`, `iat` and the presence of `sub`, `client_id`, `jti`.
 * Throws `JWTInvalid` with the reason. Does not check revocation or scope: do that after this call.
 */
export async function verifyAccessToken(
  token: string,
  lookupKey: (kid: string) => JWTVerificationKey | undefined,
  options: VerifyOptions,
): Promise<VerifiedAccessToken> {
  const decoded = decodeJWT(token)
  const key = lookupKey(decoded.header.kid)
  if (!key) throw new JWTInvalid('unknown kid')
  // The algorithm comes from the key, never from the token (CVE-2015-9235).
  if (decoded.header.alg !== key.alg) throw new JWTInvalid('alg does not match the key')
  if (!(await key.verify(decoded.signingInput, decoded.signature)))
    throw new JWTInvalid('bad signature')
  if (!isAccessTokenType(decoded.header.typ)) throw new JWTInvalid('typ is not at+jwt')
  return { claims: checkClaims(decoded.payload, options), kid: key.kid }
}

/** Checks registered claims of an already signature-checked payload. */
export function checkClaims(
  payload: Record<string, unknown>,
  options: VerifyOptions,
): AccessTokenClaims {
  const { iss, sub, aud, exp, iat, nbf, jti, client_id } = payload
  if (iss !== options.issuer) throw new JWTInvalid('iss does not match')
  if (!isNumericDate(exp)) throw new JWTInvalid('exp is missing or not a number')
  if (exp + (options.expLeeway ?? options.leeway) <= options.now) {
    throw new JWTInvalid('token has expired')
  }
  if (!isNumericDate(iat)) throw new JWTInvalid('iat is missing or not a number')
  if (iat - options.leeway > options.now) throw new JWTInvalid('iat is in the future')
  if (nbf !== undefined && (!isNumericDate(nbf) || nbf - options.leeway > options.now)) {
    throw new JWTInvalid('token is not yet valid')
  }
  if (typeof sub !== 'string' || typeof jti !== 'string' || typeof client_id !== 'string') {
    throw new JWTInvalid('sub, jti or client_id is missing')
  }
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : null
  if (!audiences || audiences.length === 0 || !audiences.every((a) => typeof a === 'string')) {
    throw new JWTInvalid('aud is missing or malformed')
  }
  if (options.audience !== undefined && !audiences.includes(options.audience)) {
    throw new JWTInvalid('aud does not match')
  }
  if (payload.scope !== undefined && typeof payload.scope !== 'string') {
    throw new JWTInvalid('scope is not a string')
  }
  if (payload.sid !== undefined && typeof payload.sid !== 'string') {
    throw new JWTInvalid('sid is not a string')
  }
  if (payload.cnf !== undefined && !isConfirmation(payload.cnf)) {
    throw new JWTInvalid('cnf is malformed')
  }
  return payload as AccessTokenClaims
}

/**
 * `@latchkey/verifier/dpop`: checking a DPoP proof (RFC 9449 §4.3), the one implementation shared by
 * this SDK's verifier (resource servers, RFC 9449 §7) and the Latchkey server's token endpoint
 * (RFC 9449 §5), on `node:crypto` only.
 *
 * A proof is a compact JWS whose header carries the client's public key (`jwk`); it proves possession
 * of that key for one request: `htm` and `htu` name the request, `iat` bounds its age, `jti` lets the
 * receiver refuse a replay, `ath` binds it to the access token sent beside it, `nonce` to a value the
 * server handed out. The key's RFC 7638 thumbprint (`jkt`) is what an access token is bound to
 * (`cnf.jkt`, RFC 9449 §6).
 *
 * `checkDpopProof` checks one proof against one request and says nothing of replays: remember each
 * accepted `jti` (`DPoPReplayCache`, or the server's store) for as long as the proof's `iat` is in the
 * window. It does not check that the key is the one a token is bound to: compare `jkt` with `cnf.jkt`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 * @see https://www.rfc-editor.org/rfc/rfc7638
 */
import {
  createHash,
  createPublicKey,
  hash,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto'
import {
  algParams,
  isCanonicalBase64url,
  MAX_JWT_LENGTH,
  SIGNING_ALGS,
  signatureLength,
  type JWK,
  type SigningAlg,
} from './jwt.js'
import { ExpiringLRU } from './lru.js'

export { SIGNING_ALGS, type JWK, type SigningAlg } from './jwt.js'

/** Which check a proof failed: the server answers `use_dpop_nonce` for `nonce`, else `invalid_dpop_proof`. */
export type DPoPProofReason =
  | 'malformed'
  | 'header'
  | 'alg'
  | 'jwk'
  | 'signature'
  | 'jti'
  | 'htm'
  | 'htu'
  | 'iat'
  | 'ath'
  | 'nonce'
  | 'replay'

/** Why a DPoP proof was refused; the message is safe to show (no token or key material). */
export class DPoPProofError extends Error {
  override readonly name = 'DPoPProofError'
  readonly reason: DPoPProofReason

  constructor(reason: DPoPProofReason, message: string) {
    super(message)
    this.reason = reason
  }
}

/** The request a proof must be for, and what else it must carry. */
export interface DPoPProofExpectation {
  /** The request's method, as sent (`GET`, `POST`): compared exactly (RFC 9110 §9.1). */
  htm: string
  /** The request's URL; its query and fragment are ignored (RFC 9449 §4.3, point 9). */
  htu: string
  /** The access token sent with the proof: `ath` must be its SHA-256, base64url (RFC 9449 §4.2). */
  accessToken?: string | undefined
  /** A nonce the server handed out (or the ones it still accepts): `nonce` must be one of them. */
  nonce?: string | readonly string[] | undefined
  /** Signature algorithms accepted. Default every one in `SIGNING_ALGS`; never `none` or an HMAC. */
  algs?: readonly SigningAlg[] | undefined
  /** Seconds since the epoch. */
  now: number
  /** How old `iat` may be, seconds. Default 60. */
  maxAgeSeconds?: number | undefined
  /** How far in the future `iat` may be, seconds (the client's clock may run ahead). Default 5. */
  clockTolerance?: number | undefined
}

/** What an accepted proof says. */
export interface DPoPProof {
  /** The RFC 7638 SHA-256 thumbprint of `jwk`, base64url: what `cnf.jkt` must equal. */
  jkt: string
  jti: string
  iat: number
  /** The public key of the header, as sent (frozen: shared by the proofs of one key). */
  jwk: Readonly<JWK>
  alg: SigningAlg
}

/** The iat window by default: 60 s back, 5 s forward. */
export const DPOP_MAX_AGE_SECONDS = 60
export const DPOP_CLOCK_TOLERANCE_SECONDS = 5
/** The longest `jti` accepted: RFC 9449 asks for 96 bits of randomness, far less than this. */
export const MAX_JTI_LENGTH = 256

const SEGMENT = /^[A-Za-z0-9_-]+$/
const DPOP_TYPE = 'dpop+jwt'
/** RFC 9449 §4.2: the header has `typ`, `alg`, `jwk`; anything else (`crit`, `jku`, `x5c` …) is refused. */
const ALLOWED_HEADER = new Set(['typ', 'alg', 'jwk'])
/** Private or symmetric key members (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']
const B64U = /^[A-Za-z0-9_-]+$/
const MIN_RSA_BITS = 2048

/** A proof header that passed its checks, with its key. */
interface ProofHeader {
  alg: SigningAlg
  jwk: Readonly<JWK>
  jkt: string
  key: KeyObject
  expiresAt: number
}

/**
 * Headers of recent proofs, by their base64url segment: a client signs every proof with one key, so
 * its header is the same string each time, parsed and its key imported once.
 */
const headerCache = new ExpiringLRU<ProofHeader>(1024)

const fail = (reason: DPoPProofReason, message: string): never => {
  throw new DPoPProofError(reason, message)
}

function parseSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    return fail('malformed', `the proof's ${what} is not base64url JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('malformed', `the proof's ${what} is not a JSON object`)
  }
  return value as Record<string, unknown>
}

/** The members of `jwk` that RFC 7638 §3.2 hashes, for the key types a proof may use. */
function requiredMembers(jwk: JWK): Record<string, string> | undefined {
  const str = (name: string): string | undefined => {
    const v = jwk[name]
    return typeof v === 'string' && B64U.test(v) ? v : undefined
  }
  switch (jwk.kty) {
    case 'EC': {
      const x = str('x')
      const y = str('y')
      const crv = jwk.crv
      return typeof crv === 'string' && x && y ? { crv, kty: 'EC', x, y } : undefined
    }
    case 'RSA': {
      const e = str('e')
      const n = str('n')
      return e && n ? { e, kty: 'RSA', n } : undefined
    }
    case 'OKP': {
      const x = str('x')
      const crv = jwk.crv
      return typeof crv === 'string' && x ? { crv, kty: 'OKP', x } : undefined
    }
    default:
      return undefined
  }
}

/**
 * The RFC 7638 JWK thumbprint of a public key, SHA-256, base64url: the JSON object of the key type's
 * required members only (EC: `crv`, `kty`, `x`, `y`; RSA: `e`, `kty`, `n`; OKP: `crv`, `kty`, `x`), in
 * lexicographic order, without whitespace. Throws a `TypeError` for another key type or a missing member.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7638#section-3
 */
export function jwkThumbprint(jwk: JWK): string {
  const members = requiredMembers(jwk)
  if (members === undefined) {
    throw new TypeError('jwkThumbprint: an EC, RSA or OKP public key with its required members')
  }
  // The members are built in lexicographic order; JSON.stringify keeps it and adds no whitespace.
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}

/** The key type and curve each algorithm needs (RFC 7518 §3.4, §3.3; RFC 8037 §3.1). */
function keyFits(alg: SigningAlg, members: Record<string, string>): boolean {
  switch (alg) {
    case 'ES256':
      return members.kty === 'EC' && members.crv === 'P-256'
    case 'RS256':
    case 'PS256':
      return members.kty === 'RSA'
    case 'EdDSA':
      return members.kty === 'OKP' && members.crv === 'Ed25519'
  }
}

/** The public key of a header's `jwk`, checked against `alg`. */
function publicKeyOf(jwk: unknown, alg: SigningAlg): { jwk: JWK; jkt: string; key: KeyObject } {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    return fail('jwk', 'the proof has no jwk header')
  }
  const j = jwk as JWK
  // RFC 9449 §4.3 point 7: the key must be public; a private member means the client leaked it.
  for (const m of PRIVATE_MEMBERS) {
    if (m in j) return fail('jwk', 'the proof jwk holds a private or symmetric key')
  }
  const members = requiredMembers(j)
  if (members === undefined) return fail('jwk', 'the proof jwk is not a public EC, RSA or OKP key')
  if (!keyFits(alg, members)) return fail('jwk', 'the proof jwk does not fit its alg')
  if (j.alg !== undefined && j.alg !== alg) return fail('jwk', 'the proof jwk is for another alg')
  const jkt = createHash('sha256').update(JSON.stringify(members)).digest('base64url')
  let key: KeyObject
  try {
    key = createPublicKey({ key: members as JsonWebKey, format: 'jwk' })
  } catch {
    return fail('jwk', 'the proof jwk is not a valid public key')
  }
  if (members.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) {
    return fail('jwk', `the proof jwk is an RSA key shorter than ${MIN_RSA_BITS} bits`)
  }
  return { jwk: j, jkt, key }
}

/**
 * The checked header of a proof (RFC 9449 §4.3 points 4, 5, 7): only `typ` (`dpop+jwt`), `alg` (one
 * of `SIGNING_ALGS`) and a public `jwk` that fits it. Cached by segment once it passed.
 */
function proofHeader(segment: string): ProofHeader {
  const cached = headerCache.get(segment, 0)
  if (cached !== undefined) return cached
  const header = parseSegment(segment, 'header')
  for (const name of Object.keys(header)) {
    if (!ALLOWED_HEADER.has(name)) {
      return fail('header', `the proof header parameter "${name}" is not accepted`)
    }
  }
  // Point 4; media types compare case-insensitively.
  const typ = header.typ
  if (typeof typ !== 'string' || typ.toLowerCase() !== DPOP_TYPE) {
    return fail('header', 'the proof typ is not dpop+jwt')
  }
  const alg = header.alg
  // Point 5: asymmetric and supported; `none` and HMACs are never in SIGNING_ALGS.
  if (typeof alg !== 'string' || !(SIGNING_ALGS as readonly string[]).includes(alg)) {
    return fail('alg', 'the proof alg is not accepted')
  }
  const { jwk, jkt, key } = publicKeyOf(header.jwk, alg as SigningAlg)
  const entry = { alg: alg as SigningAlg, jwk: Object.freeze(jwk), jkt, key, expiresAt: Infinity }
  headerCache.set(segment, entry)
  return entry
}

/** `scheme://host[:port]/path` of an absolute http(s) URL, without query and fragment; or undefined. */
export function normalizeHtu(value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  // WHATWG URL parsing lowercases scheme and host, drops a default port and resolves dot segments.
  return `${url.protocol}//${url.host}${url.pathname}`
}

/** SHA-256 of the access token, base64url: a proof's `ath` (RFC 9449 §4.2). */
export function accessTokenHash(accessToken: string): string {
  return hash('sha256', accessToken, 'base64url')
}

function isNumericDate(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 1e11
}

/**
 * Checks a DPoP proof against the request it came with, as RFC 9449 §4.3 lists: one compact JWS with
 * canonical base64url segments; header `typ` `dpop+jwt`, an asymmetric `alg` among `expect.algs`,
 * a public `jwk` of that algorithm's key type (RSA of at least 2048 bits), and no other parameter; the
 * signature, by that key; `jti` a string of at most 256 characters; `htm` equal to `expect.htm`; `htu`
 * equal to `expect.htu` once both are normalised (scheme and host case-insensitive, default port
 * dropped, query and fragment ignored); `iat` at most `maxAgeSeconds` old and at most
 * `clockTolerance` ahead; `ath` the hash of `expect.accessToken` when one is given; `nonce` one of
 * `expect.nonce` when given. Throws `DPoPProofError` with the failed check as `reason`.
 *
 * Does not check replays (`jti`) nor the token's binding (`cnf.jkt`): do both after this call.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
export function checkDpopProof(proof: string, expect: DPoPProofExpectation): DPoPProof {
  if (typeof proof !== 'string' || proof.length === 0) return fail('malformed', 'no DPoP proof')
  if (proof.length > MAX_JWT_LENGTH) return fail('malformed', 'the DPoP proof is too long')
  const parts = proof.split('.')
  if (parts.length !== 3) return fail('malformed', 'the DPoP proof is not a compact JWS')
  const [h, p, s] = parts as [string, string, string]
  if (!SEGMENT.test(h) || !SEGMENT.test(p) || !SEGMENT.test(s)) {
    return fail('malformed', 'a segment of the DPoP proof is empty or not base64url')
  }
  if (!isCanonicalBase64url(h) || !isCanonicalBase64url(p) || !isCanonicalBase64url(s)) {
    return fail('malformed', 'a segment of the DPoP proof is not canonical base64url')
  }
  const { alg: signingAlg, jwk, jkt, key } = proofHeader(h)
  if (expect.algs !== undefined && !expect.algs.includes(signingAlg)) {
    return fail('alg', 'the proof alg is not accepted')
  }

  // Point 6: the signature, by the key of the header. A high-S ECDSA signature is accepted: a proof
  // is used once, so its spelling keys nothing (and WebCrypto signs with either).
  const signature = Buffer.from(s, 'base64url')
  const params = algParams(signingAlg)
  let ok = false
  if (signature.length === signatureLength(signingAlg, key)) {
    try {
      ok = verify(params.digest, Buffer.from(`${h}.${p}`), { key, ...params.options }, signature)
    } catch {
      ok = false
    }
  }
  if (!ok) return fail('signature', 'the proof signature is not valid')

  const claims = parseSegment(p, 'payload')
  const { jti, htm, htu, iat, ath, nonce } = claims
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    return fail('jti', 'the proof jti is missing or too long')
  }
  if (typeof htm !== 'string' || htm !== expect.htm) {
    return fail('htm', 'the proof is for another method (htm)')
  }
  const expected = normalizeHtu(expect.htu)
  if (expected === undefined) return fail('htu', 'the request URL is not an http(s) URL')
  if (typeof htu !== 'string' || normalizeHtu(htu) !== expected) {
    return fail('htu', 'the proof is for another URL (htu)')
  }
  if (!isNumericDate(iat)) return fail('iat', 'the proof iat is missing or not a number')
  const maxAge = expect.maxAgeSeconds ?? DPOP_MAX_AGE_SECONDS
  const tolerance = expect.clockTolerance ?? DPOP_CLOCK_TOLERANCE_SECONDS
  if (iat < expect.now - maxAge) return fail('iat', 'the proof is too old (iat)')
  if (iat > expect.now + tolerance) return fail('iat', 'the proof is issued in the future (iat)')
  // Point 11: with an access token, ath must be its hash.
  if (expect.accessToken !== undefined) {
    if (typeof ath !== 'string' || ath !== accessTokenHash(expect.accessToken)) {
      return fail('ath', 'the proof is for another access token (ath)')
    }
  }
  // Point 10: the nonce the server gave, when it gave one.
  if (expect.nonce !== undefined) {
    const accepted = typeof expect.nonce === 'string' ? [expect.nonce] : expect.nonce
    if (typeof nonce !== 'string' || !accepted.includes(nonce)) {
      return fail('nonce', 'the proof does not carry the expected nonce')
    }
  }
  return { jkt, jti, iat, jwk, alg: signingAlg }
}

/**
 * The `jti`s of recently accepted proofs, per key, each kept until its proof's `iat` leaves the window:
 * a proof seen again within it is a replay (RFC 9449 §11.1). Bounded: at `capacity` entries the least
 * recently used live one is forgotten, so size it for the proofs of one window (the default holds
 * 100 000, more than 1 600 requests a second for a minute). One process's memory: resource servers
 * behind a balancer each keep their own.
 */
export class DPoPReplayCache {
  private readonly seen: ExpiringLRU<{ expiresAt: number }>

  constructor(capacity = 100_000) {
    this.seen = new ExpiringLRU(capacity)
  }

  /**
   * Remembers `proof` until `expiresAt` (milliseconds since the epoch); false when it was already
   * remembered and has not expired (a replay).
   */
  remember(proof: Pick<DPoPProof, 'jkt' | 'jti'>, expiresAt: number, now: number): boolean {
    const key = `${proof.jkt}.${proof.jti}`
    if (this.seen.get(key, now) !== undefined) return false
    this.seen.set(key, { expiresAt })
    return true
  }

  get size(): number {
    return this.seen.size
  }

  /** Forgets expired entries. */
  prune(now: number): void {
    this.seen.prune(now)
  }

  clear(): void {
    this.seen.clear()
  }
}

/**
 * What every framework adapter shares: reading `Authorization: Bearer` (RFC 6750 §2.1, the only
 * method accepted), verifying, and turning a refusal into a status, a `WWW-Authenticate` challenge
 * (RFC 6750 §3) and a JSON body. Framework-free, so each adapter is a few lines.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
import { VerifierConfigError, VerifierError } from '../errors.js'
import type { VerifiedClaims, VerifyOptions } from '../verifier.js'

/** What the adapters need of a verifier: `createVerifier`'s result, or a stand-in in tests. */
export interface TokenVerifier {
  verify(token: string, options?: VerifyOptions): Promise<VerifiedClaims>
}

export interface BearerAuthOptions {
  /** `realm` of the challenge (RFC 7235 §2.2). Default `api`. */
  realm?: string
}

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i
// RFC 6750 §3: error_description and scope values are limited to these characters.
const QUOTABLE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/g

/** A request that carried no bearer token at all: challenged without an error code (RFC 6750 §3.1). */
export class MissingToken extends VerifierError {
  constructor() {
    super('invalid_request', 'an access token is required')
  }
}

/** Checks an adapter's options once, at set-up. */
export function realmOf(options: BearerAuthOptions = {}): string {
  const realm = options.realm ?? 'api'
  if (typeof realm !== 'string' || realm === '' || realm.replace(QUOTABLE, '') !== realm) {
    throw new TypeError('bearer auth: realm must be printable ASCII without quotes or backslashes')
  }
  return realm
}

// A second credentials after a comma: what a fetch `Headers` (Hono) makes of two Authorization headers.
const JOINED_BEARER = /,[ \t]*bearer(\s|$)/i

function repeated(): VerifierError {
  return new VerifierError('invalid_request', 'more than one Authorization header')
}

/**
 * The Authorization header of a Node request: its value, or every value when it was sent more than
 * once. Node's `req.headers` keeps only the first copy, so the copies are counted in `rawHeaders`.
 */
export function authorizationOf(
  authorization: string | undefined,
  rawHeaders: readonly string[] | undefined,
): string | string[] | undefined {
  if (rawHeaders === undefined) return authorization
  let all: string[] | undefined
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    if (name.length === 13 && name.toLowerCase() === 'authorization') {
      ;(all ??= []).push(rawHeaders[i + 1] ?? '')
    }
  }
  return all !== undefined && all.length > 1 ? all : authorization
}

/**
 * The bearer token of an `Authorization` header. Throws `MissingToken` when there is none (or another
 * scheme, such as Basic, is used) and `invalid_request` when the header is malformed or repeated
 * (RFC 6750 §3.1: more than one method to present a token): an array of values, or values joined by
 * a comma as fetch's `Headers` joins them.
 */
export function readBearerToken(authorization: string | string[] | undefined): string {
  if (Array.isArray(authorization)) throw repeated()
  if (authorization === undefined || authorization === '') throw new MissingToken()
  const m = BEARER.exec(authorization)
  if (m) return m[1]!
  if (JOINED_BEARER.test(authorization)) throw repeated()
  if (!/^bearer(\s|$)/i.test(authorization)) throw new MissingToken()
  throw new VerifierError('invalid_request', 'malformed Bearer authorization header')
}

/** Reads the token from the header and verifies it, requiring `scopes`. Rejects with `VerifierError`. */
export async function authenticate(
  verifier: TokenVerifier,
  authorization: string | string[] | undefined,
  scopes: readonly string[],
): Promise<VerifiedClaims> {
  const token = readBearerToken(authorization)
  return verifier.verify(token, scopes.length > 0 ? { scopes } : undefined)
}

export interface Refusal {
  status: number
  headers: Record<string, string>
  body: { error: string; error_description: string }
}

/** The `WWW-Authenticate` challenge for a refusal (RFC 6750 §3). */
export function challenge(err: VerifierError, realm: string): string {
  let value = `Bearer realm="${realm}"`
  if (err instanceof MissingToken) return value
  value += `, error="${err.code}", error_description="${err.description.replace(QUOTABLE, '?')}"`
  if (err.code === 'insufficient_scope' && err.scope !== undefined) {
    value += `, scope="${err.scope.replace(QUOTABLE, '?')}"`
  }
  return value
}

/** The response for a refusal: 400, 401, 403, or 503 when the verifier could not decide. */
export function refusal(err: VerifierError, realm: string): Refusal {
  const headers: Record<string, string> = { 'cache-control': 'no-store' }
  let status: number
  switch (err.code) {
    case 'invalid_request':
      status = err instanceof MissingToken ? 401 : 400
      break
    case 'invalid_token':
      status = 401
      break
    case 'insufficient_scope':
      status = 403
      break
    case 'temporarily_unavailable':
      status = 503
      headers['retry-after'] = String(err.retryAfter ?? 1)
      break
  }
  if (err.code !== 'temporarily_unavailable') headers['www-authenticate'] = challenge(err, realm)
  // A configuration mistake is the operator's to read (in `ready()`, `verify()`, logs), not the caller's.
  const description =
    err instanceof VerifierConfigError
      ? 'access tokens cannot be checked right now'
      : err.description
  return { status, headers, body: { error: err.code, error_description: description } }
}

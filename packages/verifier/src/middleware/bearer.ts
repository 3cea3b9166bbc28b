/**
 * What every framework adapter shares: reading `Authorization: Bearer` (RFC 6750 §2.1) or
 * `Authorization: DPoP` with its `DPoP` proof header (RFC 9449 §7.1), building the request's `htu`,
 * verifying, and turning a refusal into a status, a `WWW-Authenticate` challenge (RFC 6750 §3,
 * RFC 9449 §7.1) and a JSON body. Framework-free, so each adapter is a few lines.
 *
 * DPoP is on by default: a token bound to a key needs the `DPoP` scheme and a proof, and plain bearer
 * tokens keep working unless the adapter or the route asks for DPoP only (`dpop: 'required'`).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
 */
import { invalidDpopProof, VerifierConfigError, VerifierError, type AuthScheme } from '../errors.js'
import { SIGNING_ALGS } from '../jwt.js'
import type { VerifiedClaims, VerifyOptions } from '../verifier.js'

/** What the adapters need of a verifier: `createVerifier`'s result, or a stand-in in tests. */
export interface TokenVerifier {
  verify(token: string, options?: VerifyOptions): Promise<VerifiedClaims>
  /**
   * `verify` from the caches alone (`Verifier.verifyCached`): the claims, a thrown refusal, or
   * `undefined` when `verify` must be called. Optional: a stand-in without it is always awaited.
   */
  verifyCached?(token: string, options?: VerifyOptions): VerifiedClaims | undefined
}

/**
 * DPoP (RFC 9449) at a route: `true` accepts DPoP-bound tokens with their proof beside plain bearer
 * tokens; `'required'` accepts DPoP-bound tokens only; `false` reads the `Bearer` scheme only (a
 * bound token is then refused).
 */
export type DPoPMode = boolean | 'required'

export interface BearerAuthOptions {
  /** `realm` of the challenge (RFC 7235 §2.2). Default `api`. */
  realm?: string
  /** DPoP for every route of this adapter. Default `true`. */
  dpop?: DPoPMode
  /**
   * The URL the API's callers use, such as `https://api.example.com` behind a proxy: a DPoP proof's
   * `htu` must be it followed by the request's path. Unset, `htu` is built from the request's `Host`
   * header and the connection's scheme (the framework's protocol, which may honour its trust-proxy
   * setting).
   */
  publicBaseUrl?: string
}

/** What a route may override: `auth({ dpop: 'required' }, 'orders:read')`. */
export interface RouteOptions {
  dpop?: DPoPMode
}

/** A route's arguments: its scopes, optionally after its `RouteOptions`. */
export type RouteArgs = string[] | [RouteOptions, ...string[]]

/** An adapter's options, checked once at set-up. */
export interface AuthSettings {
  realm: string
  dpop: DPoPMode
  publicBaseUrl: string | undefined
}

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i
// RFC 9449 §7.1: the DPoP scheme takes the same token68 syntax.
const SCHEMES = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i
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

function modeOf(value: unknown, name: string): DPoPMode {
  if (value !== true && value !== false && value !== 'required') {
    throw new TypeError(`bearer auth: ${name} must be true, false or 'required'`)
  }
  return value
}

/** Checks an adapter's options once, at set-up: a mistake throws a `TypeError` naming the option. */
export function settingsOf(options: BearerAuthOptions = {}): AuthSettings {
  const realm = realmOf(options)
  const dpop = modeOf(options.dpop ?? true, 'dpop')
  let publicBaseUrl: string | undefined
  if (options.publicBaseUrl !== undefined) {
    let url: URL | undefined
    try {
      url = new URL(options.publicBaseUrl)
    } catch {
      url = undefined
    }
    if (
      url === undefined ||
      (url.protocol !== 'https:' && url.protocol !== 'http:') ||
      url.search !== '' ||
      url.hash !== ''
    ) {
      throw new TypeError('bearer auth: publicBaseUrl must be an http(s) URL without query')
    }
    publicBaseUrl = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`
  }
  return { realm, dpop, publicBaseUrl }
}

/** A route's scopes and DPoP mode, from its arguments (checked at set-up). */
export function routeOf(
  settings: AuthSettings,
  args: RouteArgs,
): { scopes: string[]; dpop: DPoPMode } {
  const [first, ...rest] = args
  if (typeof first === 'object' && first !== null) {
    const dpop = first.dpop === undefined ? settings.dpop : modeOf(first.dpop, 'route dpop')
    return { scopes: rest as string[], dpop }
  }
  return { scopes: args as string[], dpop: settings.dpop }
}

// A second credentials after a comma: what a fetch `Headers` (Hono) makes of two Authorization headers.
const JOINED_BEARER = /,[ \t]*bearer(\s|$)/i
const JOINED_ANY = /,[ \t]*(bearer|dpop)(\s|$)/i

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

/**
 * The scheme and token of an `Authorization` header, `Bearer` or `DPoP` (RFC 9449 §7.1). Throws as
 * `readBearerToken` does: `MissingToken` for no header or another scheme, `invalid_request` for a
 * malformed or repeated one.
 */
export function readAuthorization(authorization: string | string[] | undefined): {
  scheme: AuthScheme
  token: string
} {
  if (Array.isArray(authorization)) throw repeated()
  if (authorization === undefined || authorization === '') throw new MissingToken()
  const m = SCHEMES.exec(authorization)
  if (m) return { scheme: m[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: m[2]! }
  if (JOINED_ANY.test(authorization)) throw repeated()
  const scheme = /^(bearer|dpop)(\s|$)/i.exec(authorization)
  if (!scheme) throw new MissingToken()
  throw new VerifierError('invalid_request', `malformed ${scheme[1]} authorization header`)
}

/**
 * The one `DPoP` header of a request, or `undefined`. Two headers (an array, or values joined by a
 * comma as Node and fetch's `Headers` join them: a proof has no comma) are refused (RFC 9449 §4.3).
 */
export function readDpopHeader(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) {
    if (value.length > 1) throw invalidDpopProof('more than one DPoP header')
    value = value[0]
  }
  if (value === undefined || value === '') return undefined
  if (value.includes(',')) throw invalidDpopProof('more than one DPoP header')
  return value.trim()
}

/** Reads the token from the header and verifies it as a bearer token, requiring `scopes`. */
export async function authenticate(
  verifier: TokenVerifier,
  authorization: string | string[] | undefined,
  scopes: readonly string[],
): Promise<VerifiedClaims> {
  const token = readBearerToken(authorization)
  return verifier.verify(token, scopes.length > 0 ? { scopes } : undefined)
}

/** What an adapter reads of a request. */
export interface RequestParts {
  authorization: string | string[] | undefined
  /** The `DPoP` header. */
  dpop: string | string[] | undefined
  method: string
  /** The request target as sent: a path with its query, or an absolute URL. */
  url: string
  /** The `Host` header; ignored when `url` is absolute or `publicBaseUrl` is set. */
  host: string | undefined
  /** `http` or `https`: how the request reached the framework. */
  protocol: string
}

/**
 * The URL a proof's `htu` must name: `publicBaseUrl` and the request's path, or else the request's
 * scheme, `Host` and path. Query and fragment are dropped (RFC 9449 §4.3 compares without them).
 */
export function htuOf(settings: AuthSettings, req: RequestParts): string {
  let path = req.url
  if (/^https?:\/\//i.test(path)) {
    const url = new URL(path)
    if (settings.publicBaseUrl === undefined) return `${url.protocol}//${url.host}${url.pathname}`
    path = url.pathname
  }
  const q = path.search(/[?#]/)
  if (q >= 0) path = path.slice(0, q)
  if (!path.startsWith('/')) path = `/${path}`
  if (settings.publicBaseUrl !== undefined) return settings.publicBaseUrl + path
  // Without a Host header (HTTP/1.0) there is no URL a proof could name.
  if (req.host === undefined || req.host === '') return ''
  const scheme = req.protocol.replace(/:$/, '').toLowerCase() === 'https' ? 'https' : 'http'
  return `${scheme}://${req.host}${path}`
}

export type Outcome = { claims: VerifiedClaims; refusal?: undefined } | { refusal: Refusal }

/**
 * Authenticates a request for a route: reads the scheme and token, the proof when the scheme is
 * DPoP, verifies (RFC 9449 §7 and the route's scopes), and answers a refusal with its response. A
 * token the verifier's caches answer for (`verifyCached`) gets its outcome at once, not a promise,
 * so that an adapter can go on in the same turn of the event loop; `await` takes either. Rejects (or
 * throws) only with errors that are not refusals (the verifier's bugs, a stand-in's failures).
 */
export function authorizeRequest(
  verifier: TokenVerifier,
  settings: AuthSettings,
  route: { scopes: readonly string[]; dpop: DPoPMode },
  req: RequestParts,
): Outcome | Promise<Outcome> {
  const dpopOn = route.dpop !== false
  let used: AuthScheme | undefined
  const refused = (err: unknown): Outcome => {
    if (!(err instanceof VerifierError)) throw err
    return { refusal: refusal(err, settings.realm, { dpop: route.dpop, scheme: used }) }
  }
  try {
    const { scheme, token } = dpopOn
      ? readAuthorization(req.authorization)
      : { scheme: 'Bearer' as const, token: readBearerToken(req.authorization) }
    used = scheme
    const options: VerifyOptions = {}
    if (route.scopes.length > 0) options.scopes = route.scopes
    if (dpopOn) {
      const proof = scheme === 'DPoP'
      options.dpop = {
        scheme,
        proof: proof ? readDpopHeader(req.dpop) : undefined,
        htm: req.method,
        // Only a proof is compared with the request's URL (RFC 9449 §4.3).
        htu: proof ? htuOf(settings, req) : '',
        required: route.dpop === 'required',
      }
    }
    const cached = verifier.verifyCached?.(token, options)
    if (cached !== undefined) return { claims: cached }
    return verifier.verify(token, options).then((claims) => ({ claims }), refused)
  } catch (err) {
    return refused(err)
  }
}

export interface Refusal {
  status: number
  headers: Record<string, string>
  body: { error: string; error_description: string }
}

/** How a refused request was made, for its challenge. */
export interface ChallengeContext {
  /** The route's DPoP mode; `false` (the default) challenges with `Bearer` only. */
  dpop: DPoPMode
  /** The scheme the request used, when it got that far. */
  scheme?: AuthScheme | undefined
}

/** RFC 9449 §7.1: the `algs` a DPoP challenge lists, those a proof may be signed with. */
export const DPOP_ALGS = SIGNING_ALGS.join(' ')

/**
 * The `WWW-Authenticate` challenge for a refusal (RFC 6750 §3, RFC 9449 §7.1). A request without a
 * token is challenged with every scheme the route accepts, without an error code; any other refusal
 * with the scheme the error asks for, or else the one the request used.
 */
export function challenge(err: VerifierError, realm: string, context?: ChallengeContext): string {
  const dpop = context?.dpop ?? false
  const dpopChallenge = `DPoP realm="${realm}", algs="${DPOP_ALGS}"`
  if (err instanceof MissingToken) {
    if (dpop === false) return `Bearer realm="${realm}"`
    return dpop === 'required' ? dpopChallenge : `Bearer realm="${realm}", ${dpopChallenge}`
  }
  const scheme: AuthScheme =
    dpop === false
      ? 'Bearer'
      : (err.scheme ?? context?.scheme ?? (dpop === 'required' ? 'DPoP' : 'Bearer'))
  let value = `${scheme} realm="${realm}"`
  value += `, error="${err.code}", error_description="${err.description.replace(QUOTABLE, '?')}"`
  if (err.code === 'insufficient_scope' && err.scope !== undefined) {
    value += `, scope="${err.scope.replace(QUOTABLE, '?')}"`
  }
  if (scheme === 'DPoP') value += `, algs="${DPOP_ALGS}"`
  return value
}

/** The response for a refusal: 400, 401, 403, or 503 when the verifier could not decide. */
export function refusal(err: VerifierError, realm: string, context?: ChallengeContext): Refusal {
  const headers: Record<string, string> = { 'cache-control': 'no-store' }
  let status: number
  switch (err.code) {
    case 'invalid_request':
      status = err instanceof MissingToken ? 401 : 400
      break
    case 'invalid_token':
    case 'invalid_dpop_proof':
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
  if (err.code !== 'temporarily_unavailable') {
    headers['www-authenticate'] = challenge(err, realm, context)
  }
  // A configuration mistake is the operator's to read (in `ready()`, `verify()`, logs), not the caller's.
  const description =
    err instanceof VerifierConfigError
      ? 'access tokens cannot be checked right now'
      : err.description
  return { status, headers, body: { error: err.code, error_description: description } }
}

/**
 * Request headers read as one value each. Node keeps the first of some repeated headers in
 * `req.headers` (Authorization, Content-Type, Host) and joins others (Cookie), while a proxy, a WAF or
 * a log in front may read the last or all: the same bytes would mean two requests (a parser
 * differential). So a header that decides who the caller is, where the request goes or how its body
 * reads is refused when it appears twice, from `rawHeaders`, where every copy is kept.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-5.3 (a field that is not a list must not repeat)
 * @see https://www.rfc-editor.org/rfc/rfc9112#section-3.2 (more than one Host: 400)
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1 (more than one method: invalid_request)
 */
import { OAuthError } from '../errors.js'

/** Headers that may appear at most once in a request. */
const SINGLE_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'content-type',
  'content-length',
  'transfer-encoding',
  'host',
  'cookie',
  'dpop',
])

/** Name lengths of `SINGLE_HEADERS`: most names are dismissed without lower-casing them. */
const LENGTHS = new Set([...SINGLE_HEADERS].map((name) => name.length))

/** The first header of `SINGLE_HEADERS` that `rawHeaders` (name, value, name, …) holds twice. */
export function repeatedHeader(rawHeaders: readonly string[]): string | undefined {
  let seen: string[] | undefined
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i]!
    if (!LENGTHS.has(raw.length)) continue
    const name = raw.toLowerCase()
    if (!SINGLE_HEADERS.has(name)) continue
    if (seen?.includes(name)) return name
    ;(seen ??= []).push(name)
  }
  return undefined
}

/**
 * Throws `invalid_request` (400) when a header that must be single is repeated; for `DPoP`,
 * `invalid_dpop_proof` (RFC 9449 §4.3, point 1: "not more than one DPoP HTTP request header field").
 */
export function checkSingleHeaders(rawHeaders: readonly string[]): void {
  const name = repeatedHeader(rawHeaders)
  if (name === 'dpop') throw new OAuthError('invalid_dpop_proof', 'the DPoP header is repeated')
  if (name !== undefined) throw new OAuthError('invalid_request', `the ${name} header is repeated`)
}

/**
 * `Authorization: Bearer <token>` (RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" /
 * "~" / "+" / "/" ) *"="), the scheme in any case, spaces around the token tolerated. The token is
 * group 1.
 */
export const BEARER_AUTHORIZATION = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i

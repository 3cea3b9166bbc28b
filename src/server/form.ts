/**
 * The one body format of the OAuth endpoints: application/x-www-form-urlencoded (RFC 6749 §3.2,
 * RFC 7662 §2.1, RFC 7009 §2.1), parsed with the WHATWG URLSearchParams and then held to the RFCs:
 * no parameter twice (RFC 6749 §3.1; a repeated `resource` or `audience` is `invalid_target`), valid
 * UTF-8, no control or bidirectional-override characters.
 */
import { invalidTarget, OAuthError } from '../errors.js'

/** Parameters of one request, by name. A null prototype, so `__proto__` is just a name. */
export type FormParams = Readonly<Record<string, string>>

export const MAX_FORM_PARAMETERS = 64

const utf8 = new TextDecoder('utf-8', { fatal: true })
// C0 controls, DEL, C1 controls, and the bidirectional controls that can disguise text (RFC 9839 §4).
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffd]/
const SAFE_NAME = /^[a-z_]{1,40}$/

function refuse(description: string): OAuthError {
  return new OAuthError('invalid_request', description)
}

// RFC 9110 §8.3.1: the media type and the charset name compare case-insensitively; a parameter value
// may be quoted. Nothing else: another charset would be read as UTF-8 all the same, and other
// parameters are ones nobody here reads.
const FORM_CONTENT_TYPE =
  /^application\/x-www-form-urlencoded(?:[ \t]*;[ \t]*charset=(?:utf-8|"utf-8"))?[ \t]*$/i

/**
 * Throws `OAuthError(invalid_request)` unless `contentType` is exactly
 * `application/x-www-form-urlencoded`, optionally with `charset=utf-8` (RFC 6749 §3.2, Appendix B).
 */
export function checkFormContentType(contentType: string | undefined): void {
  if (contentType === undefined || !FORM_CONTENT_TYPE.test(contentType)) {
    throw refuse('request body must be application/x-www-form-urlencoded in UTF-8')
  }
}

/** Parses a form body. Throws `OAuthError(invalid_request)` on anything the RFCs do not allow. */
export function parseForm(body: Buffer): FormParams {
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    throw refuse('request body is not valid UTF-8')
  }
  const { params, repeated } = collect(text)
  const [name] = repeated
  // RFC 8707 §2 allows several `resource` (RFC 8693 §2.1 several `audience`); a token here has one
  // `aud`, so several targets are a target the server cannot issue for (RFC 8707 §2.2).
  if (name === 'resource' || name === 'audience') {
    throw invalidTarget(`one ${name} per request`)
  }
  if (name !== undefined) {
    throw refuse(SAFE_NAME.test(name) ? `parameter ${name} is repeated` : 'a parameter is repeated')
  }
  return params
}

/**
 * Parses a query string (the part after `?`) by the same rules, except that repeated parameters are
 * reported rather than refused: the authorization endpoint must first decide whether it may redirect
 * before it says so (RFC 6749 §4.1.2.1). A repeated parameter keeps its first value in `params`.
 * Throws `OAuthError(invalid_request)` on forbidden characters or too many parameters.
 */
export function parseQuery(search: string): { params: FormParams; repeated: ReadonlySet<string> } {
  return collect(search)
}

function collect(text: string): { params: FormParams; repeated: Set<string> } {
  const params: Record<string, string> = Object.create(null) as Record<string, string>
  const repeated = new Set<string>()
  let count = 0
  for (const [name, value] of new URLSearchParams(text)) {
    if (++count > MAX_FORM_PARAMETERS) throw refuse('too many parameters')
    // Invalid percent-encoded UTF-8 decodes to U+FFFD, caught here with the control characters.
    if (FORBIDDEN.test(name) || FORBIDDEN.test(value)) {
      throw refuse('a parameter holds a forbidden character')
    }
    if (name in params) repeated.add(name)
    else params[name] = value
  }
  return { params, repeated }
}

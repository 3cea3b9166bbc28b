/**
 * Checking an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3), the same way for the GET that
 * shows the login page and for the POST that comes back from it: the hidden fields of the form are
 * never trusted.
 *
 * Until the client and its redirect URI are known to be valid, an error must not redirect (RFC 6749
 * §4.1.2.1, RFC 9700 §4.1.1): the caller shows an error page. After that, errors go back to the client
 * at its redirect URI with `state` and `iss` (RFC 9207).
 *
 * OpenID Connect Core §3.1.2.1 adds `prompt` (a set of `none`, `login`, `consent`,
 * `select_account`; `none` alone), `max_age` (seconds) and `login_hint` (the username to fill in);
 * this module checks their form, `../endpoints/authorize.ts` acts on them. It also adds `nonce` (Core §3.1.2.1, kept exactly as sent for the ID token) and `claims`
 * (Core §5.5, the standard claims asked for in the ID token; see `tokens/id_token.ts`). RFC 9449 §10
 * adds `dpop_jkt`: the thumbprint of the key whose DPoP proof must redeem the code.
 */
import { OAuthError } from '../errors.js'
import type { ClientRecord } from '../store/types.js'
import { MAX_NONCE_LENGTH, requestedIdTokenClaims } from '../tokens/id_token.js'
import type { ServerContext } from './context.js'
import type { FormParams } from './form.js'
import { grantScope } from './scope.js'

/** The parameters of an authorization request, carried through the login form as hidden fields. */
const AUTHORIZATION_PARAMETERS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
  // OpenID Connect Core §3.1.2.1
  'prompt',
  'max_age',
  'login_hint',
  // OpenID Connect Core §3.1.2.1, §5.5
  'nonce',
  'claims',
  // RFC 9449 §10
  'dpop_jkt',
] as const

/** OpenID Connect Core §3.1.2.1: the `prompt` values this server acts on. */
export const PROMPT_VALUES = ['none', 'login', 'consent', 'select_account'] as const
export type Prompt = (typeof PROMPT_VALUES)[number]
const MAX_LOGIN_HINT = 255
// A whole number of seconds, at most ten digits (three centuries).
const MAX_AGE = /^[0-9]{1,10}$/

const MAX_CLIENT_ID = 255
// RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters without padding.
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/

export interface AuthorizationRequest {
  client: ClientRecord
  /** Exactly as sent, and byte-for-byte one of the client's registered URIs. */
  redirectUri: string
  /** Echoed to the client when it was sent, even empty. */
  state: string | undefined
  /** PKCE S256 challenge. */
  codeChallenge: string
  /** The scope to grant. */
  scope: string[]
  /** OpenID Connect `nonce`, exactly as sent; `undefined` when none (or an empty one) was. */
  nonce: string | undefined
  /** The standard claims the `claims` parameter asks for in the ID token (none: empty). */
  claims: string[]
  /** RFC 9449 §10 `dpop_jkt`: the key the code's redemption must prove; `undefined` when not sent. */
  dpopJkt: string | undefined
  /** The request's own parameters, as received, for the hidden fields of the login form. */
  params: Readonly<Record<string, string>>
  /** The parameters came from a pushed request (RFC 9126). */
  pushed: boolean
  /** `prompt` (OIDC Core §3.1.2.1): empty when not sent. `none` is never with another value. */
  prompt: ReadonlySet<Prompt>
  /** `max_age` in seconds: a browser login older than this must be made again. */
  maxAge: number | undefined
  /** `login_hint`: the username the login form is filled in with. */
  loginHint: string | undefined
}

export type CheckedAuthorizationRequest =
  | { kind: 'valid'; request: AuthorizationRequest }
  /** The client or redirect URI is not valid: show an error page, never redirect. */
  | {
      kind: 'page'
      description: string
      /** A redirect URI not registered: the one sent and those registered (for the log and, on a
       * loopback issuer, the page). */
      mismatch?: { sent: string; registered: readonly string[] }
    }
  /** A valid client at a valid redirect URI asked for something wrong: redirect the error there. */
  | { kind: 'redirect'; redirectUri: string; state: string | undefined; error: OAuthError }

/**
 * Checks an authorization request. `repeated` names parameters sent more than once (RFC 6749 §3.1:
 * they must not be). `pushed` says the parameters came from a pushed request (RFC 9126), which a
 * client registered with `requirePar` must use. Does not authenticate the user or look at cookies,
 * and does not resolve a `request_uri`: the caller does, and passes the pushed parameters here.
 */
export async function checkAuthorizationRequest(
  params: FormParams,
  repeated: ReadonlySet<string>,
  ctx: ServerContext,
  pushed = false,
): Promise<CheckedAuthorizationRequest> {
  const page = (description: string): CheckedAuthorizationRequest => ({ kind: 'page', description })

  // Step 1: who is asking, and where the answer may go. Nothing here may redirect.
  const clientId = params.client_id
  if (clientId === undefined || clientId === '') return page('The request does not name a client.')
  if (repeated.has('client_id')) return page('The request names its client more than once.')
  const client = clientId.length <= MAX_CLIENT_ID ? await ctx.clients.get(clientId) : null
  if (!client) return page('The application that sent you here is not registered.')

  const redirectUri = params.redirect_uri
  if (redirectUri === undefined || redirectUri === '') {
    return page('The request does not say where to return to.')
  }
  if (repeated.has('redirect_uri')) return page('The request has more than one return address.')
  // RFC 9700 §2.1 / §4.1.3: exact string comparison, no normalisation of any kind.
  if (!client.redirectUris.includes(redirectUri)) {
    return {
      kind: 'page',
      description: 'The return address is not one registered for this application.',
      mismatch: { sent: redirectUri, registered: client.redirectUris },
    }
  }

  // Step 2: everything else goes back to the client.
  const state = repeated.has('state') ? undefined : params.state
  const refuse = (code: ConstructorParameters<typeof OAuthError>[0], description: string) =>
    ({
      kind: 'redirect',
      redirectUri,
      state,
      error: new OAuthError(code, description),
    }) as const
  const [twice] = repeated
  if (twice !== undefined) {
    return refuse('invalid_request', `parameter ${safeName(twice)} is repeated`)
  }
  // OpenID Connect Core §6: an OP that does not support request objects must refuse one, not
  // ignore it (whose parameters the client meant to count).
  if (params.request !== undefined && params.request !== '') {
    return refuse('invalid_request', 'request objects are not supported; use PAR instead')
  }
  // RFC 9126 §4: a client that must push its requests is refused, with invalid_request, any other.
  if (client.requirePar && !pushed) {
    return refuse('invalid_request', 'this client must push its authorization requests (PAR)')
  }
  const responseType = params.response_type
  if (responseType === undefined || responseType === '') {
    return refuse('invalid_request', 'response_type is required')
  }
  if (responseType !== 'code') {
    return refuse('unsupported_response_type', 'only response_type=code is supported')
  }
  if (!client.grants.includes('authorization_code')) {
    return refuse('unauthorized_client', 'this client may not use the authorization code grant')
  }
  // RFC 9700 §2.1.1 and §4.8: PKCE is required, and only with S256 (no `plain`, no default).
  const codeChallenge = params.code_challenge
  if (codeChallenge === undefined || codeChallenge === '') {
    return refuse('invalid_request', 'code_challenge is required (PKCE)')
  }
  if (params.code_challenge_method !== 'S256') {
    return refuse('invalid_request', 'code_challenge_method must be S256')
  }
  if (!S256_CHALLENGE.test(codeChallenge)) {
    return refuse('invalid_request', 'code_challenge must be 43 base64url characters')
  }
  let scope: string[]
  let claims: string[]
  try {
    // The admin scope is left out when the code is issued unless the user holds the admin role.
    scope = grantScope(params.scope, client.scopes)
    claims = requestedIdTokenClaims(params.claims)
  } catch (err) {
    if (err instanceof OAuthError) return refuse(err.code, err.description)
    throw err
  }
  // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
  const nonce = params.nonce === '' ? undefined : params.nonce
  if (nonce !== undefined && nonce.length > MAX_NONCE_LENGTH) {
    return refuse('invalid_request', `nonce must be at most ${MAX_NONCE_LENGTH} characters`)
  }

  // RFC 9449 §10: a JWK SHA-256 thumbprint, base64url (43 characters).
  const dpopJkt = params.dpop_jkt === '' ? undefined : params.dpop_jkt
  if (dpopJkt !== undefined && !S256_CHALLENGE.test(dpopJkt)) {
    return refuse('invalid_request', 'dpop_jkt must be a JWK SHA-256 thumbprint (base64url)')
  }

  const prompt = parsePrompt(params.prompt)
  if (prompt === undefined) {
    return refuse(
      'invalid_request',
      'prompt must be none alone, or of login, consent, select_account',
    )
  }
  const maxAge = params.max_age === undefined || params.max_age === '' ? undefined : params.max_age
  if (maxAge !== undefined && !MAX_AGE.test(maxAge)) {
    return refuse('invalid_request', 'max_age must be a whole number of seconds')
  }
  const loginHint = params.login_hint === '' ? undefined : params.login_hint
  if (loginHint !== undefined && loginHint.length > MAX_LOGIN_HINT) {
    return refuse('invalid_request', `login_hint must be at most ${MAX_LOGIN_HINT} characters`)
  }

  return {
    kind: 'valid',
    request: {
      client,
      redirectUri,
      state,
      codeChallenge,
      scope,
      nonce,
      claims,
      dpopJkt,
      params: carriedParameters(params),
      pushed,
      prompt,
      maxAge: maxAge === undefined ? undefined : Number(maxAge),
      loginHint,
    },
  }
}

/**
 * The `prompt` set (OIDC Core §3.1.2.1: space-delimited, case-sensitive), or `undefined` when it has
 * an unknown value or `none` with another.
 */
function parsePrompt(value: string | undefined): ReadonlySet<Prompt> | undefined {
  const values = (value ?? '').split(' ').filter((v) => v !== '')
  const known = values.filter((v): v is Prompt => (PROMPT_VALUES as readonly string[]).includes(v))
  if (known.length !== values.length) return undefined
  const prompt = new Set(known)
  // §3.1.2.1: "If this parameter contains none with any other value, an error is returned."
  if (prompt.has('none') && prompt.size > 1) return undefined
  return prompt
}

/**
 * The authorization request's own parameters among `params`, in one fixed order: what the login form
 * carries, what a pushed request stores (RFC 9126), and what proves a form came from one.
 */
function carriedParameters(params: FormParams): Record<string, string> {
  const carried: Record<string, string> = {}
  for (const name of AUTHORIZATION_PARAMETERS) {
    const value = params[name]
    if (value !== undefined) carried[name] = value
  }
  return carried
}

/** A parameter name fit to quote in an error description. */
function safeName(name: string): string {
  return /^[a-z_]{1,40}$/.test(name) ? name : 'a parameter'
}

/**
 * The redirect URI with `params` added to whatever query it already has, which is kept exactly as
 * registered (RFC 6749 §3.1.2: the query component must be retained).
 */
export function redirectTo(
  redirectUri: string,
  params: Record<string, string | undefined>,
): string {
  const url = new URL(redirectUri)
  const added = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) added.append(name, value)
  }
  const extra = added.toString()
  if (extra !== '') url.search = url.search.length > 1 ? `${url.search}&${extra}` : extra
  return url.href
}

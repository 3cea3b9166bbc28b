// Signing the operator in through Latchkey's own authorization endpoint, as any single-page app
// would: the authorization-code flow with PKCE (S256) for the public client `latchkey-console`,
// which `latchkey serve` keeps registered with this page as its redirect URI. The verifier, `state`
// and `nonce` wait in sessionStorage for the redirect back; the tokens live in sessionStorage too
// (this tab only, gone when it closes), never in a cookie or localStorage. Signing out revokes the
// refresh token and ends the login at the server (RP-initiated logout with the ID token as hint).

export const CLIENT_ID = 'latchkey-console'
export const ADMIN_SCOPE = 'latchkey:admin'
const SCOPE = `openid ${ADMIN_SCOPE}`
const PENDING = 'latchkey-console.pending'
const SESSION = 'latchkey-console.session'

/** The issuer's URL with a trailing slash: the console is served at `<issuer>/console/`. */
export const base = new URL('../', window.location.href)
/** The issuer as tokens carry it (`iss`): no trailing slash. */
export const issuer = base.href.replace(/\/$/, '')
/** This page, without query or fragment: the redirect URI registered for the console. */
export const redirectUri = new URL('./', window.location.href).href

/**
 * @typedef {object} Session
 * @property {string} accessToken
 * @property {string | null} refreshToken
 * @property {string | null} idToken
 * @property {string} scope the scope granted (the token response's `scope`)
 * @property {string} sub the user's id
 * @property {number} expiresAt ms since the epoch
 */

/** Thrown when signing in fails; `message` is for the operator. */
export class SignInError extends Error {}

/** @param {Uint8Array} bytes */
function base64url(bytes) {
  let text = ''
  for (const b of bytes) text += String.fromCharCode(b)
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

const random = () => base64url(crypto.getRandomValues(new Uint8Array(32)))

/**
 * The payload of a JWT, unverified: only read here for `sub` and `nonce` of an ID token that came
 * straight from the token endpoint over this origin's connection.
 * @param {string} jwt
 * @returns {Record<string, unknown>}
 */
function payloadOf(jwt) {
  const part = jwt.split('.')[1] ?? ''
  const padded = part.replace(/-/g, '+').replace(/_/g, '/')
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0))
  return JSON.parse(new TextDecoder().decode(bytes))
}

/**
 * Sends the browser to the authorization endpoint; `returnTo` (a `#/…` view) is where it comes back.
 * @param {string} returnTo
 */
export async function beginSignIn(returnTo) {
  const verifier = random()
  const state = random()
  const nonce = random()
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, nonce, returnTo }))
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: redirectUri,
    scope: SCOPE,
    state,
    nonce,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: 'S256',
  })
  window.location.assign(new URL(`authorize?${query}`, base).href)
}

/**
 * POSTs a form to the token endpoint; resolves with its JSON, or throws `SignInError`.
 * @param {Record<string, string>} form
 */
async function tokenRequest(form) {
  const res = await fetch(new URL('token', base), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
    cache: 'no-store',
  })
  const json = await res.json().catch(() => ({}))
  if (!res.ok) {
    throw new SignInError(json.error_description ?? json.error ?? `token endpoint: ${res.status}`)
  }
  return json
}

/**
 * Keeps the token response as the session.
 * @param {Record<string, any>} json
 * @param {Session | null} previous what a refresh replaces (an ID token is not always renewed)
 * @returns {Session}
 */
function keep(json, previous) {
  const idToken = json.id_token ?? previous?.idToken ?? null
  /** @type {Session} */
  const session = {
    accessToken: String(json.access_token),
    refreshToken: json.refresh_token ?? previous?.refreshToken ?? null,
    idToken,
    scope: String(json.scope ?? previous?.scope ?? ''),
    sub: idToken ? String(payloadOf(idToken).sub) : (previous?.sub ?? ''),
    expiresAt: Date.now() + Number(json.expires_in ?? 300) * 1000,
  }
  sessionStorage.setItem(SESSION, JSON.stringify(session))
  return session
}

/**
 * Finishes the sign-in on the redirect back (`?code=…&state=…` or `?error=…`): checks `state` (and
 * `iss`, RFC 9207) against the pending request, redeems the code with the PKCE verifier, checks the
 * ID token's `nonce`. Returns the view to show. Throws `SignInError`.
 * @param {URL} url
 * @returns {Promise<string>}
 */
export async function completeSignIn(url) {
  const raw = sessionStorage.getItem(PENDING)
  sessionStorage.removeItem(PENDING)
  const pending = raw ? JSON.parse(raw) : null
  const params = url.searchParams
  if (!pending || params.get('state') !== pending.state) {
    throw new SignInError('This sign-in answer does not belong to a request of this tab.')
  }
  if (params.has('iss') && params.get('iss') !== issuer) {
    throw new SignInError('This sign-in answer comes from another issuer.')
  }
  const error = params.get('error')
  if (error !== null) throw new SignInError(params.get('error_description') ?? error)
  const json = await tokenRequest({
    grant_type: 'authorization_code',
    code: params.get('code') ?? '',
    redirect_uri: redirectUri,
    client_id: CLIENT_ID,
    code_verifier: pending.verifier,
  })
  if (json.id_token && payloadOf(json.id_token).nonce !== pending.nonce) {
    throw new SignInError('The ID token does not answer this sign-in.')
  }
  keep(json, null)
  return typeof pending.returnTo === 'string' ? pending.returnTo : ''
}

/** The session of this tab, or `null`. @returns {Session | null} */
export function currentSession() {
  const raw = sessionStorage.getItem(SESSION)
  if (!raw) return null
  try {
    return JSON.parse(raw)
  } catch {
    return null
  }
}

/** Whether the session's scope includes the admin scope. @param {Session} session */
export function isAdmin(session) {
  return session.scope.split(' ').includes(ADMIN_SCOPE)
}

/** @type {Promise<Session | null> | null} */
let refreshing = null

/**
 * A new access token from the refresh token (one request at a time); `null` when there is none or
 * the server refuses it (the session ended), after which the tab is signed out.
 * @returns {Promise<Session | null>}
 */
export function refresh() {
  refreshing ??= (async () => {
    const session = currentSession()
    if (!session?.refreshToken) return null
    try {
      return keep(
        await tokenRequest({
          grant_type: 'refresh_token',
          refresh_token: session.refreshToken,
          client_id: CLIENT_ID,
        }),
        session,
      )
    } catch {
      forget()
      return null
    }
  })().finally(() => (refreshing = null))
  return refreshing
}

/**
 * A live access token: the current one, or a refreshed one when it expires within 15 s.
 * @returns {Promise<string | null>}
 */
export async function accessToken() {
  const session = currentSession()
  if (!session) return null
  if (session.expiresAt - Date.now() > 15_000) return session.accessToken
  return (await refresh())?.accessToken ?? null
}

/** Forgets the tokens of this tab. */
export function forget() {
  sessionStorage.removeItem(SESSION)
}

/**
 * Signs out: revokes the refresh token (RFC 7009), forgets the tokens, and ends the login at the
 * server (RP-initiated logout), which comes back to this page.
 */
export async function signOut() {
  const session = currentSession()
  forget()
  if (session?.refreshToken) {
    await fetch(new URL('revoke', base), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: session.refreshToken, client_id: CLIENT_ID }),
    }).catch(() => undefined)
  }
  const query = new URLSearchParams({ client_id: CLIENT_ID, post_logout_redirect_uri: redirectUri })
  if (session?.idToken) query.set('id_token_hint', session.idToken)
  window.location.assign(new URL(`logout?${query}`, base).href)
}

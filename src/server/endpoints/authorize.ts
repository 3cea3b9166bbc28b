/**
 * The authorization endpoint (RFC 6749 §3.1, §4.1) with its login page and, for a third-party client,
 * its consent page (OpenID Connect Core §3.1.2.4, `../consent.ts`); first-party clients never see it.
 *
 * GET: check the request; a browser with a live login gets a code at once (or the consent page), any
 * other the login form. OIDC Core §3.1.2.1: `prompt=login` or `select_account`, or a login older than
 * `max_age` (`0`: any), shows the login form even to a live login; `prompt=none` never shows a page:
 * it redirects `login_required` or `consent_required` instead; `prompt=consent` always asks.
 * POST (the form): check the request again, the CSRF token, the throttle, then the password; on success
 * remember the browser and send it back to the client with a code (or show the consent page). The POST
 * always authenticates: `prompt` and `max_age` are not applied to it again.
 * POST `/authorize/consent` (the consent form): check the request again, the live login, the CSRF
 * token and the consent mark (the same login, the same parameters); `approve` remembers the scopes
 * and issues a code for exactly them, `cancel` redirects `access_denied`.
 *
 * A GET with `request_uri` (RFC 9126 §4) takes that pushed request, once, for the `client_id` beside
 * it, and uses its parameters only (RFC 9101 §6.3: the others are ignored); an unknown, expired, used
 * or other client's `request_uri` gets the error page, since no redirect URI is known to be the
 * client's. The login form then carries a handle to the parameters, stored again for it
 * (`../pushed_request.ts`), so its POST works without the request, which is gone, and uses the
 * stored parameters, never the form's. A client registered with `requirePar` is
 * refused any request that is not pushed, with `invalid_request` at its redirect URI (RFC 9126 §4).
 */
import { shortened } from '../../audit/record.js'
import { ADMIN_SCOPE, scopeForUser } from '../scope.js'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OAuthError, StoreUnavailableError, type OAuthErrorCode } from '../../errors.js'
import type { LoginRecord, UserRecord } from '../../store/types.js'
import { generateOpaqueToken } from '../../tokens/opaque.js'
import { HasherBusy, verifyPassword } from '../../tokens/passwords.js'
import { isUsername } from '../../users.js'
import { issuerPath } from '../issuer.js'
import {
  checkAuthorizationRequest,
  redirectTo,
  type AuthorizationRequest,
} from '../authorization_request.js'
import {
  browserSettings,
  checkCsrfToken,
  CSRF_FIELD,
  issueCsrfToken,
  loginCookieHash,
  redirectSource,
  sendPage,
  sendRedirect,
  setLoginCookie,
  type BrowserSettings,
} from '../browser.js'
import type { ServerContext } from '../context.js'
import { parseQuery, type FormParams } from '../form.js'
import {
  renderConsentPage,
  renderErrorPage,
  renderLoginPage,
  STYLE_HASH,
  type ErrorDetail,
} from '../login_page.js'
import { carryPushed, takeCarried, PUSHED_FIELD, takePushedRequest } from '../pushed_request.js'
import {
  checkConsentToken,
  CONSENT_FIELD,
  consentNeeded,
  consentToken,
  DECISION_FIELD,
} from '../consent.js'

export const AUTHORIZE_PATH = '/authorize'
/** Where the consent form posts, under the authorization endpoint. */
export const CONSENT_PATH = '/authorize/consent'

interface Env {
  ctx: ServerContext
  browser: BrowserSettings
  /** Where the login form posts: the endpoint under the issuer's path. */
  action: string
  /** Where the consent form posts, under the issuer's path. */
  consentAction: string
}

export function registerAuthorizeEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  const env: Env = {
    ctx,
    browser: browserSettings(ctx.config),
    action: issuerPath(ctx.config.issuer) + AUTHORIZE_PATH,
    consentAction: issuerPath(ctx.config.issuer) + CONSENT_PATH,
  }
  // Its own encapsulated context: errors here are pages for a person, not JSON for a client.
  void app.register((scope, _options, done) => {
    scope.setErrorHandler((error, request, reply) => sendErrorPage(request, reply, error))
    // Pages for a person: off the hot path, so a scoped hook sets what every other answer sets inline.
    scope.addHook('onRequest', (_request, reply, done) => {
      reply.header('x-content-type-options', 'nosniff')
      done()
    })
    // A HEAD must not issue a code to a browser that is logged in.
    scope.get(AUTHORIZE_PATH, { exposeHeadRoute: false }, (request, reply) =>
      authorizeGet(request, reply, env),
    )
    scope.post(AUTHORIZE_PATH, (request, reply) => authorizePost(request, reply, env))
    scope.post(CONSENT_PATH, (request, reply) => consentPost(request, reply, env))
    done()
  })
}

async function authorizeGet(
  request: FastifyRequest,
  reply: FastifyReply,
  env: Env,
): Promise<FastifyReply> {
  const url = request.raw.url ?? ''
  const mark = url.indexOf('?')
  // Read the raw query: Fastify's parsed one would hide repeated parameters.
  const query = parseQuery(mark < 0 ? '' : url.slice(mark + 1))
  const resolved = await resolvePushed(query.params, query.repeated, reply, env)
  if (!resolved) return reply
  const authz = await checkOrAnswer(resolved.params, resolved.repeated, reply, env, resolved.pushed)
  if (!authz) return reply

  const { ctx } = env
  const now = ctx.clock()
  const loginHash = loginCookieHash(request, env.browser)
  const login = loginHash === undefined ? null : await ctx.store.getLogin(loginHash, now)
  if (login && !mustSignInAgain(authz, login, now)) {
    return afterSignIn(request, reply, env, authz, login)
  }
  // OIDC Core §3.1.2.1: prompt=none must not show a page.
  if (authz.prompt.has('none')) {
    return sendError(reply, env, authz, 'login_required', 'the user is not signed in')
  }
  return showLoginForm(request, reply, env, authz, 200, { username: authz.loginHint })
}

/**
 * Whether a live login must sign in again for this request (OIDC Core §3.1.2.1): `prompt=login`, or
 * `select_account` (the login form is where one signs in as someone else), or a login older than
 * `max_age` seconds (`max_age=0` is `prompt=login`).
 */
function mustSignInAgain(authz: AuthorizationRequest, login: LoginRecord, now: number): boolean {
  if (authz.prompt.has('login') || authz.prompt.has('select_account')) return true
  const maxAge = authz.maxAge
  return maxAge !== undefined && (maxAge === 0 || now - login.createdAt > maxAge)
}

/**
 * The signed-in user's way on: a code, or first the consent page when the client is third-party
 * and the user must be asked (`consent_required` with `prompt=none`).
 */
async function afterSignIn(
  request: FastifyRequest,
  reply: FastifyReply,
  env: Env,
  authz: AuthorizationRequest,
  login: LoginRecord,
): Promise<FastifyReply> {
  const { ctx } = env
  authz = await forUser(ctx, authz, login.userId)
  if (await consentNeeded(ctx.store, authz, login.userId)) {
    if (authz.prompt.has('none')) {
      return sendError(
        reply,
        env,
        authz,
        'consent_required',
        'the user has not approved this client',
      )
    }
    return showConsentPage(request, reply, env, authz, login, 200)
  }
  return sendRedirect(reply, await issueCode(authz, login, ctx))
}

/**
 * The errors sent back to the client from here: RFC 6749 §4.1.2.1's, and OpenID Connect Core
 * §3.1.2.6's for `prompt=none`, which only an authorization response carries.
 */
type AuthorizationErrorCode = OAuthErrorCode | 'login_required' | 'consent_required'

/** Sends the browser back to the client with an error (RFC 6749 §4.1.2.1), `state` and `iss`. */
function sendError(
  reply: FastifyReply,
  env: Env,
  authz: AuthorizationRequest,
  code: AuthorizationErrorCode,
  description: string,
): FastifyReply {
  return sendRedirect(
    reply,
    redirectTo(authz.redirectUri, {
      error: code,
      error_description: description,
      state: authz.state,
      iss: env.ctx.config.issuer,
    }),
  )
}

/**
 * The consent form's POST. The hidden fields are checked again like the login form's (a pushed
 * request's come from the store), and must be the very ones the page was shown with, to the same
 * live login: the consent mark covers both. Nothing is granted otherwise.
 */
async function consentPost(
  request: FastifyRequest,
  reply: FastifyReply,
  env: Env,
): Promise<FastifyReply> {
  const { ctx, browser } = env
  const form = (request.body ?? {}) as FormParams
  const carried = await takeCarried(ctx.store, form[PUSHED_FIELD], form.client_id, ctx.clock())
  const checked = await checkOrAnswer(carried ?? form, new Set(), reply, env, carried !== null)
  if (!checked) return reply
  let authz = checked

  const now = ctx.clock()
  const loginHash = loginCookieHash(request, browser)
  const login = loginHash === undefined ? null : await ctx.store.getLogin(loginHash, now)
  if (!login) {
    // Signed out (or the login expired) since the page was shown: sign in again, then be asked.
    return showLoginForm(request, reply, env, authz, 200, {
      username: authz.loginHint,
      message: 'Your sign-in has ended. Please sign in again.',
    })
  }
  authz = await forUser(ctx, authz, login.userId)
  if (
    !checkCsrfToken(request, form[CSRF_FIELD], browser) ||
    !checkConsentToken(browser, login.hash, authz.params, form[CONSENT_FIELD])
  ) {
    request.log.info({ client_id: authz.client.clientId }, 'consent form refused')
    return showConsentPage(request, reply, env, authz, login, 403, {
      message: 'This page has expired or was changed. Please review it and answer again.',
      fresh: true,
    })
  }
  if (form[DECISION_FIELD] === 'cancel') {
    request.log.info({ client_id: authz.client.clientId, user_id: login.userId }, 'consent denied')
    return sendError(reply, env, authz, 'access_denied', 'the user did not approve the request')
  }
  // All or nothing: exactly the scopes the page listed, which the mark ties to this request.
  if (authz.client.thirdParty) {
    await ctx.store.grantConsent(login.userId, authz.client.clientId, authz.scope, now)
  }
  request.log.info({ client_id: authz.client.clientId, user_id: login.userId }, 'consent given')
  return sendRedirect(reply, await issueCode(authz, login, ctx))
}

async function authorizePost(
  request: FastifyRequest,
  reply: FastifyReply,
  env: Env,
): Promise<FastifyReply> {
  const { ctx, browser } = env
  const form = (request.body ?? {}) as FormParams
  // The hidden fields are the browser's word only: check everything again. (Repeats were refused
  // by the form parser already.) A form showing a pushed request carries its handle instead: then
  // the stored parameters count, and nothing else the form says.
  const carried = await takeCarried(ctx.store, form[PUSHED_FIELD], form.client_id, ctx.clock())
  const params = carried ?? form
  const authz = await checkOrAnswer(params, new Set(), reply, env, carried !== null)
  if (!authz) return reply

  if (!checkCsrfToken(request, form[CSRF_FIELD], browser)) {
    request.log.info({ client_id: authz.client.clientId }, 'login form refused: CSRF check failed')
    return showLoginForm(request, reply, env, authz, 403, {
      message: 'This sign-in form has expired. Please sign in again.',
      fresh: true,
    })
  }

  const username = form.username ?? ''
  const password = form.password ?? ''
  if (username === '' || password === '') {
    return showLoginForm(request, reply, env, authz, 400, {
      username,
      message: 'Enter your username and password.',
    })
  }

  // Throttled per username+address, per username and per address; counted before the slow check,
  // so that parallel guesses cannot all pass the throttle, and forgiven on success.
  const now = ctx.clock()
  const attempt = await ctx.loginThrottle.attempt(request.ip, username, now)
  if ('retryAfter' in attempt) {
    const wait = attempt.retryAfter
    // Refused attempts cost an attacker nothing: recorded once a minute per username and address.
    ctx.audit.record(
      {
        kind: 'login.locked_out',
        subject: null,
        details: {
          username: shortened(username),
          client_id: authz.client.clientId,
          retry_after: wait,
        },
      },
      request.ip,
      `${request.ip}\n${username}`,
    )
    reply.header('retry-after', String(wait))
    return showLoginForm(request, reply, env, authz, 429, {
      username,
      message: `Too many sign-in attempts. Try again in ${wait} ${wait === 1 ? 'second' : 'seconds'}.`,
    })
  }

  let user: UserRecord | null
  let ok: boolean
  try {
    user = isUsername(username) ? await ctx.store.getUserByUsername(username) : null
    // An unknown user costs the same hash as a known one.
    ok = await verifyPassword(password, user?.passwordHash ?? null, () =>
      ctx.metrics.secretHashes.inc({ kind: 'password' }),
    )
  } catch (err) {
    attempt.forgive()
    if (!(err instanceof HasherBusy)) throw err
    reply.header('retry-after', '1')
    return showLoginForm(request, reply, env, authz, 503, {
      username,
      message: 'Signing in is busy right now. Please try again in a moment.',
    })
  }
  if (!ok || !user) {
    request.log.info({ client_id: authz.client.clientId }, 'login failed')
    ctx.audit.record(
      {
        kind: 'login.failed',
        subject: user?.id ?? null,
        details: { username: shortened(username), client_id: authz.client.clientId },
      },
      request.ip,
    )
    return showLoginForm(request, reply, env, authz, 401, {
      username,
      message: 'Incorrect username or password.',
      invalid: true,
    })
  }
  attempt.forgive()

  // A fresh login cookie on every sign-in (no fixation); the one the browser had, if any, ends.
  const previous = loginCookieHash(request, browser)
  if (previous !== undefined) await ctx.store.deleteLogin(previous)
  const cookie = generateOpaqueToken()
  const login: LoginRecord = {
    hash: cookie.hash,
    userId: user.id,
    createdAt: now,
    expiresAt: now + ctx.config.loginSeconds,
  }
  await ctx.store.createLogin(login)
  setLoginCookie(reply, cookie.token, browser)
  request.log.info({ client_id: authz.client.clientId, user_id: user.id }, 'login')
  return afterSignIn(request, reply, env, authz, login)
}

/**
 * The parameters to use: the query's own, or, with `request_uri`, those of the pushed request it
 * names, taken for good (RFC 9126 §4). Answers the browser with the error page and returns
 * `undefined` when the `request_uri` cannot be used.
 */
async function resolvePushed(
  params: FormParams,
  repeated: ReadonlySet<string>,
  reply: FastifyReply,
  env: Env,
): Promise<{ params: FormParams; repeated: ReadonlySet<string>; pushed: boolean } | undefined> {
  const requestUri = params.request_uri
  // RFC 6749 §3.1: a parameter without a value is treated as omitted.
  if ((requestUri === undefined || requestUri === '') && !repeated.has('request_uri')) {
    return { params, repeated, pushed: false }
  }
  const clientId = params.client_id
  if (requestUri === undefined || repeated.has('request_uri') || repeated.has('client_id')) {
    sendInvalidPage(reply, 'The request has more than one request reference or client.')
    return undefined
  }
  if (clientId === undefined || clientId === '') {
    sendInvalidPage(reply, 'The request does not name a client.')
    return undefined
  }
  const { ctx } = env
  const pushed = await takePushedRequest(ctx.store, requestUri, clientId, ctx.clock())
  if (pushed === null) {
    // RFC 9101 §7 calls this invalid_request_uri; with no trusted redirect URI, a page says it.
    reply.log.info({ client_id: clientId, error: 'invalid_request_uri' }, 'request_uri refused')
    sendInvalidPage(
      reply,
      'This sign-in link has expired or was already used. Please start again from the application.',
    )
    return undefined
  }
  // RFC 9101 §6.3: only the pushed parameters count; whatever else the query says is ignored.
  return { params: pushed, repeated: new Set(), pushed: true }
}

function sendInvalidPage(
  reply: FastifyReply,
  description: string,
  details?: readonly ErrorDetail[],
): void {
  sendPage(
    reply,
    400,
    renderErrorPage({ title: 'This sign-in link is not valid', description, details }),
    STYLE_HASH,
  )
}

/** Longest redirect URI written to the log as sent (a request can carry anything). */
const MAX_LOGGED_URI = 512

/**
 * Logs a redirect URI that is not registered, with those that are: the usual first mistake of a new
 * integration. The page shows them too, but only on a loopback issuer (a developer's machine):
 * elsewhere they would tell anyone which return addresses a client has.
 */
function redirectMismatch(
  reply: FastifyReply,
  env: Env,
  clientId: string,
  mismatch: { sent: string; registered: readonly string[] },
): ErrorDetail[] | undefined {
  const sent =
    mismatch.sent.length > MAX_LOGGED_URI
      ? `${mismatch.sent.slice(0, MAX_LOGGED_URI)}…`
      : mismatch.sent
  reply.log.info(
    { client_id: clientId, redirect_uri: sent, registered: mismatch.registered },
    'redirect_uri not registered',
  )
  if (!isLoopbackIssuer(env.ctx.config.issuer)) return undefined
  return [
    { label: 'Sent:', values: [sent] },
    { label: 'Registered:', values: mismatch.registered },
  ]
}

/** Whether the issuer is on this machine (`http://127.0.0.1…`, `http://localhost…`, `[::1]`). */
function isLoopbackIssuer(issuer: string): boolean {
  return ['localhost', '127.0.0.1', '[::1]'].includes(new URL(issuer).hostname)
}

/**
 * Checks the request; answers the browser itself (error page or error redirect) and returns
 * `undefined` when it is not valid.
 */
async function checkOrAnswer(
  params: FormParams,
  repeated: ReadonlySet<string>,
  reply: FastifyReply,
  env: Env,
  pushed: boolean,
): Promise<AuthorizationRequest | undefined> {
  const checked = await checkAuthorizationRequest(params, repeated, env.ctx, pushed)
  switch (checked.kind) {
    case 'valid':
      return checked.request
    case 'page':
      sendInvalidPage(
        reply,
        checked.description,
        checked.mismatch && redirectMismatch(reply, env, params.client_id ?? '', checked.mismatch),
      )
      return undefined
    case 'redirect':
      sendRedirect(
        reply,
        redirectTo(checked.redirectUri, {
          error: checked.error.code,
          error_description: checked.error.description,
          state: checked.state,
          iss: env.ctx.config.issuer,
        }),
      )
      return undefined
  }
}

/**
 * The request as it applies to `userId`: `latchkey:admin` left out unless the user has the admin
 * role, so that the consent page never lists it, a consent never remembers it, and no code carries it.
 */
async function forUser(
  ctx: ServerContext,
  authz: AuthorizationRequest,
  userId: string,
): Promise<AuthorizationRequest> {
  if (!authz.scope.includes(ADMIN_SCOPE)) return authz
  return { ...authz, scope: scopeForUser(authz.scope, await ctx.store.getUser(userId)) }
}

/**
 * Issues a code (RFC 6749 §4.1.2) bound to the client, the exact redirect URI, the PKCE challenge and
 * the login, and returns where to send the browser. Only the code's hash is stored.
 */
async function issueCode(
  authz: AuthorizationRequest,
  login: LoginRecord,
  ctx: ServerContext,
): Promise<string> {
  const now = ctx.clock()
  const code = generateOpaqueToken()
  // Only an admin's login may carry latchkey:admin; the user is known only now.
  const scope = authz.scope.includes(ADMIN_SCOPE)
    ? scopeForUser(authz.scope, await ctx.store.getUser(login.userId))
    : authz.scope
  await ctx.store.saveCode({
    hash: code.hash,
    clientId: authz.client.clientId,
    userId: login.userId,
    redirectUri: authz.redirectUri,
    codeChallenge: authz.codeChallenge,
    scope: scope.join(' '),
    createdAt: now,
    expiresAt: now + ctx.config.codeSeconds,
    loginHash: login.hash,
    usedAt: null,
    sessionId: null,
    // What the ID token needs (OpenID Connect Core §2): the nonce as sent, when the user logged in.
    nonce: authz.nonce ?? null,
    authTime: login.createdAt,
    claims: authz.claims,
    // RFC 9449 §10: the key the redemption must prove.
    dpopJkt: authz.dpopJkt ?? null,
  })
  // RFC 9207: `iss` tells the client which server answered (mix-up defence).
  return redirectTo(authz.redirectUri, {
    code: code.token,
    state: authz.state,
    iss: ctx.config.issuer,
  })
}

/** The authorization request's hidden fields: its parameters, and a handle when it was pushed. */
async function hiddenFields(
  env: Env,
  authz: AuthorizationRequest,
): Promise<Readonly<Record<string, string>>> {
  if (!authz.pushed) return authz.params
  const handle = await carryPushed(
    env.ctx.store,
    authz.client.clientId,
    authz.params,
    env.ctx.clock(),
  )
  return { ...authz.params, [PUSHED_FIELD]: handle }
}

/** The CSP of the login and consent pages, and the page sent with it. */
function sendAuthorizePage(
  reply: FastifyReply,
  authz: AuthorizationRequest,
  status: number,
  html: string,
): FastifyReply {
  // The form posts here; the redirect after it goes to the client, which `form-action` must allow.
  // The logo, if any, is the one image the page may load: from its origin only.
  const logo = authz.client.logoUri
  return sendPage(
    reply,
    status,
    html,
    STYLE_HASH,
    ["'self'", redirectSource(authz.redirectUri)],
    logo === null ? [] : imageSource(logo),
  )
}

/** The consent page for `login`'s user, listing exactly the scopes an approval grants. */
async function showConsentPage(
  request: FastifyRequest,
  reply: FastifyReply,
  env: Env,
  authz: AuthorizationRequest,
  login: LoginRecord,
  status: number,
  o: { message?: string; fresh?: boolean } = {},
): Promise<FastifyReply> {
  const csrf = issueCsrfToken(request, reply, env.browser, o.fresh)
  const user = await env.ctx.store.getUser(login.userId)
  const html = renderConsentPage({
    action: env.consentAction,
    clientId: authz.client.clientId,
    clientName: authz.client.displayName,
    logoUri: authz.client.logoUri,
    username: user?.username ?? '',
    scope: authz.scope,
    hidden: await hiddenFields(env, authz),
    csrf: [CSRF_FIELD, csrf],
    consent: [CONSENT_FIELD, consentToken(env.browser, login.hash, authz.params)],
    decision: DECISION_FIELD,
    message: o.message,
  })
  return sendAuthorizePage(reply, authz, status, html)
}

async function showLoginForm(
  request: FastifyRequest,
  reply: FastifyReply,
  env: Env,
  authz: AuthorizationRequest,
  status: number,
  o: { username?: string; message?: string; invalid?: boolean; fresh?: boolean },
): Promise<FastifyReply> {
  const csrf = issueCsrfToken(request, reply, env.browser, o.fresh)
  const hidden = await hiddenFields(env, authz)
  const html = renderLoginPage({
    action: env.action,
    clientId: authz.client.clientId,
    clientName: authz.client.displayName,
    logoUri: authz.client.logoUri,
    hidden,
    csrf: [CSRF_FIELD, csrf],
    username: o.username,
    message: o.message,
    invalid: o.invalid,
  })
  return sendAuthorizePage(reply, authz, status, html)
}

/** The CSP source of a logo: its origin (none for a URL that has none: nothing may load then). */
function imageSource(uri: string): string[] {
  try {
    const origin = new URL(uri).origin
    return origin === 'null' ? [] : [origin]
  } catch {
    return []
  }
}

/**
 * Anything that went wrong, as a page for a person: a safe sentence, never a stack trace. `what` names
 * the request in the title (`sign-in`, `sign-out`).
 */
export function sendErrorPage(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  what = 'sign-in',
): FastifyReply {
  const frameworkStatus = (error as { statusCode?: unknown }).statusCode
  let status = 500
  let description = 'Something went wrong on our side. Please try again in a moment.'
  if (error instanceof OAuthError && error.status < 500) {
    // The form parser's refusals (a repeated parameter, a control character, …): safe to show.
    status = error.status
    description = `The request could not be read: ${error.description}.`
  } else if (error instanceof StoreUnavailableError) {
    status = 503
    description = 'The service is temporarily unavailable. Please try again in a moment.'
    reply.header('retry-after', '1')
  } else if (
    typeof frameworkStatus === 'number' &&
    frameworkStatus >= 400 &&
    frameworkStatus < 500
  ) {
    // Fastify's own refusals: a body too large, of the wrong type, …
    status = frameworkStatus
    description = 'The request could not be read.'
  }
  if (status >= 500) {
    const err = error instanceof OAuthError ? (error.cause ?? error) : error
    request.log.error({ err }, `${what} page failed`)
  }
  const title = status >= 500 ? 'Something went wrong' : `This ${what} request is not valid`
  return sendPage(reply, status, renderErrorPage({ title, description }), STYLE_HASH)
}

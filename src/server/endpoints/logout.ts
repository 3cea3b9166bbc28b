/**
 * The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0 §2), `/logout` under the issuer,
 * GET or POST (a form). It ends the browser's login at the server and, by default
 * (`logoutEndsSessions`), every session that login started: their refresh and access tokens stop
 * working, and each client with a back-channel logout URI gets a logout token
 * (`../backchannel_logout.ts`, driven by the revocation feed).
 *
 * Steps: check the request (a repeated parameter, a bad `id_token_hint`, an unknown client, or a
 * `post_logout_redirect_uri` that is not exactly one registered for the client → an error page, never a
 * redirect: §3 and RFC 9700 §4.11 on open redirectors); then sign out at once when the request
 * proves it comes from the user's application (a valid `id_token_hint` for the signed-in user, or
 * for a browser not signed in, whose session `sid` then ends), else ask: a confirmation page whose
 * form posts back with a CSRF token, so that a cross-site GET or form cannot sign anyone out (§6).
 * Afterwards: a 303 to the `post_logout_redirect_uri` with `state` (§3), or a "You are signed out"
 * page. `logout_hint` and `ui_locales` are accepted and ignored.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ClientRecord, LoginRecord } from '../../store/types.js'
import { JWTInvalid } from '../../tokens/jwt.js'
import { endLoginSessions, endSession } from '../../tokens/session_revocation.js'
import { redirectTo } from '../authorization_request.js'
import {
  browserSettings,
  checkCsrfToken,
  clearLoginCookie,
  CSRF_FIELD,
  issueCsrfToken,
  loginCookieHash,
  redirectSource,
  sendPage,
  sendRedirect,
  type BrowserSettings,
} from '../browser.js'
import type { ServerContext } from '../context.js'
import { parseQuery, type FormParams } from '../form.js'
import { checkIdTokenHint, type IdTokenHint } from '../id_token_hint.js'
import { issuerPath } from '../issuer.js'
import { renderErrorPage, STYLE_HASH } from '../login_page.js'
import {
  CANCEL,
  CHOICE_FIELD,
  renderLogoutPage,
  renderSignedOutPage,
  SIGN_OUT,
} from '../logout_page.js'
import { sendErrorPage } from './authorize.js'

export const LOGOUT_PATH = '/logout'

interface Env {
  ctx: ServerContext
  browser: BrowserSettings
  /** Where the confirmation form posts: the endpoint under the issuer's path. */
  action: string
}

/** A checked logout request. */
interface LogoutRequest {
  /** The client named by `client_id` or the hint's `aud`, if any. */
  client: ClientRecord | null
  /** A registered post-logout redirect URI of `client`, or `null`: then a page says signed out. */
  redirectUri: string | null
  state: string | undefined
  /** A valid `id_token_hint`, or `null`. */
  hint: IdTokenHint | null
}

export function registerLogoutEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  const env: Env = {
    ctx,
    browser: browserSettings(ctx.config),
    action: issuerPath(ctx.config.issuer) + LOGOUT_PATH,
  }
  // Its own encapsulated context, as the authorization endpoint's: errors are pages for a person.
  void app.register((scope, _options, done) => {
    scope.setErrorHandler((error, request, reply) =>
      sendErrorPage(request, reply, error, 'sign-out'),
    )
    scope.addHook('onRequest', (_request, reply, done) => {
      reply.header('x-content-type-options', 'nosniff')
      done()
    })
    // A HEAD must not sign anyone out.
    scope.get(LOGOUT_PATH, { exposeHeadRoute: false }, (request, reply) => {
      const url = request.raw.url ?? ''
      const mark = url.indexOf('?')
      // The raw query: Fastify's parsed one would hide repeated parameters.
      const query = parseQuery(mark < 0 ? '' : url.slice(mark + 1))
      return logoutRequest(request, reply, env, query.params, query.repeated)
    })
    scope.post(LOGOUT_PATH, (request, reply) => logoutPost(request, reply, env))
    done()
  })
}

/** GET, or a relying party's POST (§2 allows both): check, then sign out or ask. */
async function logoutRequest(
  request: FastifyRequest,
  reply: FastifyReply,
  env: Env,
  params: FormParams,
  repeated: ReadonlySet<string>,
): Promise<FastifyReply> {
  const checked = await checkLogoutRequest(params, repeated, env.ctx, reply)
  if (typeof checked === 'string') return sendInvalidPage(reply, checked)
  const login = await liveLogin(request, env)
  const { hint } = checked
  // §2: with a hint for the signed-in user, or no one signed in, the request is the user's own.
  if (hint !== null && (login === null || login.userId === hint.sub)) {
    await signOut(request, reply, env, login, hint)
    return finish(reply, checked)
  }
  if (login === null) {
    // Nobody to sign out; the cookie, if any, is stale.
    clearLoginCookie(reply, env.browser)
    return finish(reply, checked)
  }
  return showConfirmation(request, reply, env, checked, 200)
}

/** The confirmation form's POST, or a relying party's POST request (which carries no CSRF field). */
async function logoutPost(
  request: FastifyRequest,
  reply: FastifyReply,
  env: Env,
): Promise<FastifyReply> {
  const form = (request.body ?? {}) as FormParams
  if (form[CSRF_FIELD] === undefined) return logoutRequest(request, reply, env, form, new Set())

  // The hidden fields are the browser's word only: check them again. No hint is carried.
  const { id_token_hint: _ignored, ...carried } = form
  const checked = await checkLogoutRequest(carried, new Set(), env.ctx, reply)
  if (typeof checked === 'string') return sendInvalidPage(reply, checked)
  if (!checkCsrfToken(request, form[CSRF_FIELD], env.browser)) {
    request.log.info(
      { client_id: checked.client?.clientId },
      'logout form refused: CSRF check failed',
    )
    return showConfirmation(request, reply, env, checked, 403, {
      message: 'This sign-out form has expired. Please try again.',
      fresh: true,
    })
  }
  const choice = form[CHOICE_FIELD]
  if (choice === CANCEL) {
    return sendPage(reply, 200, renderSignedOutPage({ signedOut: false }), STYLE_HASH)
  }
  if (choice !== SIGN_OUT) return sendInvalidPage(reply, 'The sign-out form was not understood.')
  await signOut(request, reply, env, await liveLogin(request, env), null)
  return finish(reply, checked)
}

/**
 * Checks the parameters; returns the request, or the sentence the error page shows. Never trusts a
 * `post_logout_redirect_uri` that is not exactly one the client registered.
 */
async function checkLogoutRequest(
  params: FormParams,
  repeated: ReadonlySet<string>,
  ctx: ServerContext,
  reply: FastifyReply,
): Promise<LogoutRequest | string> {
  if (repeated.size > 0) return 'The request repeats a parameter.'
  // RFC 6749 §3.1 (and OIDC): a parameter without a value is treated as omitted.
  const value = (name: string): string | undefined =>
    params[name] === undefined || params[name] === '' ? undefined : params[name]

  let hint: IdTokenHint | null = null
  const hintToken = value('id_token_hint')
  if (hintToken !== undefined) {
    try {
      hint = await checkIdTokenHint(hintToken, ctx)
    } catch (err) {
      if (!(err instanceof JWTInvalid)) throw err
      reply.log.info({ reason: err.message }, 'logout refused: id_token_hint not valid')
      return 'The sign-out request carries an ID token this server did not issue.'
    }
  }

  const clientId = value('client_id')
  if (clientId !== undefined && hint !== null && clientId !== hint.clientId) {
    // §2: when both are given, the client_id must be the hint's audience.
    return 'The sign-out request names two different applications.'
  }
  const named = clientId ?? hint?.clientId
  const client = named === undefined ? null : await ctx.clients.get(named)
  if (named !== undefined && client === null) {
    return 'The application that asked to sign out is not known here.'
  }

  const redirectUri = value('post_logout_redirect_uri')
  if (redirectUri !== undefined) {
    // §3: only with a client to check it against, and only an exact, registered URI.
    if (client === null) return 'The sign-out request does not name an application.'
    if (!client.postLogoutRedirectUris.includes(redirectUri)) {
      reply.log.info({ client_id: client.clientId }, 'post_logout_redirect_uri not registered')
      return 'The address to return to after signing out is not registered for this application.'
    }
  }
  return { client, redirectUri: redirectUri ?? null, state: value('state'), hint }
}

/** The browser's live login, from its cookie; `null` without one. */
async function liveLogin(request: FastifyRequest, env: Env): Promise<LoginRecord | null> {
  const hash = loginCookieHash(request, env.browser)
  if (hash === undefined) return null
  return env.ctx.store.getLogin(hash, env.ctx.clock())
}

/**
 * Ends the browser's login (and, by default, every session it started: one `sid` event each, which
 * the revocation feed turns into back-channel logout tokens) and clears its cookie. Without a login,
 * a valid hint's `sid` names the session to end, when it is that user's and that client's.
 */
async function signOut(
  request: FastifyRequest,
  reply: FastifyReply,
  env: Env,
  login: LoginRecord | null,
  hint: IdTokenHint | null,
): Promise<void> {
  const { ctx } = env
  const now = ctx.clock()
  const endsSessions = ctx.config.logoutEndsSessions
  let ended = 0
  if (login !== null) {
    if (endsSessions) ended = (await endLoginSessions(ctx.store, login.hash, now)).length
    else await ctx.store.deleteLogin(login.hash)
  } else if (hint?.sid !== undefined && endsSessions) {
    const session = await ctx.store.getSession(hint.sid)
    if (session && session.userId === hint.sub && session.clientId === hint.clientId) {
      if (await endSession(ctx.store, session.id, now)) ended = 1
    }
  }
  clearLoginCookie(reply, env.browser)
  // The feed carries the logout to other nodes and to back-channel receivers: read it now.
  if (ended > 0) ctx.feed.poke()
  request.log.info(
    { user_id: login?.userId ?? hint?.sub, sessions_ended: ended, login: login !== null },
    'logout',
  )
}

/** After signing out: back to the client (§3, with `state`), or a page that says so. */
function finish(reply: FastifyReply, request: LogoutRequest): FastifyReply {
  if (request.redirectUri !== null) {
    return sendRedirect(reply, redirectTo(request.redirectUri, { state: request.state }))
  }
  return sendPage(reply, 200, renderSignedOutPage({ signedOut: true }), STYLE_HASH)
}

function showConfirmation(
  request: FastifyRequest,
  reply: FastifyReply,
  env: Env,
  checked: LogoutRequest,
  status: number,
  o: { message?: string; fresh?: boolean } = {},
): FastifyReply {
  const csrf = issueCsrfToken(request, reply, env.browser, o.fresh)
  const hidden: Record<string, string> = {}
  if (checked.client !== null) hidden.client_id = checked.client.clientId
  if (checked.redirectUri !== null) hidden.post_logout_redirect_uri = checked.redirectUri
  if (checked.state !== undefined) hidden.state = checked.state
  const html = renderLogoutPage({
    action: env.action,
    clientName:
      checked.client === null ? null : (checked.client.displayName ?? checked.client.clientId),
    hidden,
    csrf: [CSRF_FIELD, csrf],
    message: o.message,
  })
  // The form posts here; the redirect after it goes to the client, which `form-action` must allow.
  const formAction = ["'self'"]
  if (checked.redirectUri !== null) formAction.push(redirectSource(checked.redirectUri))
  return sendPage(reply, status, html, STYLE_HASH, formAction)
}

function sendInvalidPage(reply: FastifyReply, description: string): FastifyReply {
  return sendPage(
    reply,
    400,
    renderErrorPage({ title: 'This sign-out request is not valid', description }),
    STYLE_HASH,
  )
}

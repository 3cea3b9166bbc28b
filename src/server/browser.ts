/**
 * What the authorization endpoint needs to talk to a browser: its cookies (the login that lets it skip
 * the form, and the CSRF cookie of the form), the CSRF token, and the headers of its HTML pages and
 * redirects.
 *
 * CSRF: a signed double-submit. The form page sets a random HttpOnly, SameSite=Strict cookie and puts
 * HMAC(key, cookie) in a hidden field; the POST must bring both, and they must match (compared in
 * constant time). Another site can neither read the cookie nor make the browser send it (Strict). The
 * HMAC key is derived from the configuration, so every node behind a balancer accepts every node's
 * forms; its secrecy (from the key-encryption secret, when set) is defence in depth, not what the
 * scheme rests on.
 *
 * Every cookie the server sets is named by `BrowserSettings`: whenever cookies are `Secure`, their
 * names carry the `__Host-` prefix (RFC 6265bis §4.1.3.2: Secure, `Path=/`, no `Domain`), so a sibling
 * subdomain cannot plant one, neither a CSRF cookie nor a login that would sign the victim in as the
 * attacker. Only the prefixed names are read then: a planted unprefixed cookie is ignored. `Path=/`
 * stays even when the issuer has a path, as the prefix demands.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ServeConfig } from '../config.js'
import { deriveServerKey } from './derived_key.js'
import { generateOpaqueToken, hashOpaqueToken, looksOpaque } from '../tokens/opaque.js'

/** The CSRF field of the login form. */
export const CSRF_FIELD = 'csrf_token'

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])

export interface BrowserSettings {
  /** Cookies carry `Secure`: everywhere but a plain-http issuer on a loopback address. */
  secure: boolean
  /** `__Host-latchkey_login` when secure (the prefix requires it), `latchkey_login` otherwise. */
  loginCookie: string
  /** `__Host-latchkey_csrf` when secure, `latchkey_csrf` otherwise. */
  csrfCookie: string
  csrfKey: Buffer
  loginSeconds: number
}

export function browserSettings(config: ServeConfig): BrowserSettings {
  const issuer = new URL(config.issuer)
  const secure = !(issuer.protocol === 'http:' && LOOPBACK_HOSTS.has(issuer.hostname))
  const csrfKey = deriveServerKey('latchkey csrf v1', config)
  // The prefix only where browsers honour it: with Secure, which a loopback http issuer cannot set.
  const prefix = secure ? '__Host-' : ''
  return {
    secure,
    loginCookie: `${prefix}latchkey_login`,
    csrfCookie: `${prefix}latchkey_csrf`,
    csrfKey,
    loginSeconds: config.loginSeconds,
  }
}

/** The request's cookie `name` when it has the shape of one of ours (43 base64url characters). */
function ourCookie(request: FastifyRequest, name: string): string | undefined {
  const value = request.cookies[name]
  return value !== undefined && looksOpaque(value) ? value : undefined
}

/** The hash of the browser's login cookie, if it carries one; whether it is live is the store's say. */
export function loginCookieHash(request: FastifyRequest, s: BrowserSettings): string | undefined {
  const value = ourCookie(request, s.loginCookie)
  return value === undefined ? undefined : hashOpaqueToken(value)
}

/** Sets the login cookie: HttpOnly, SameSite=Lax (so the client's redirect to us carries it). */
export function setLoginCookie(reply: FastifyReply, value: string, s: BrowserSettings): void {
  // Path=/ and no Domain, always: `__Host-` requires both.
  reply.setCookie(s.loginCookie, value, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: s.secure,
    maxAge: s.loginSeconds,
  })
}

/** Removes the login cookie (logout): the same attributes as it was set with, expired. */
export function clearLoginCookie(reply: FastifyReply, s: BrowserSettings): void {
  reply.clearCookie(s.loginCookie, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: s.secure,
  })
}

function csrfToken(cookie: string, s: BrowserSettings): string {
  return createHmac('sha256', s.csrfKey).update(cookie).digest('base64url')
}

/**
 * The CSRF token for a form: reuses the browser's CSRF cookie when it has one, else sets a new one.
 * With `fresh`, always a new cookie (after a refused POST).
 */
export function issueCsrfToken(
  request: FastifyRequest,
  reply: FastifyReply,
  s: BrowserSettings,
  fresh = false,
): string {
  let cookie = fresh ? undefined : ourCookie(request, s.csrfCookie)
  if (cookie === undefined) {
    cookie = generateOpaqueToken().token
    reply.setCookie(s.csrfCookie, cookie, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: s.secure,
    })
  }
  return csrfToken(cookie, s)
}

/** Whether the POST carries the CSRF cookie and, in `field`, the token that matches it. */
export function checkCsrfToken(
  request: FastifyRequest,
  field: string | undefined,
  s: BrowserSettings,
): boolean {
  const cookie = ourCookie(request, s.csrfCookie)
  if (cookie === undefined || field === undefined || !looksOpaque(field)) return false
  return timingSafeEqual(Buffer.from(csrfToken(cookie, s)), Buffer.from(field))
}

/** Headers of every answer of the authorization endpoint: never cached, never a referrer. */
function privateHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .header('referrer-policy', 'no-referrer')
}

/**
 * Sends an HTML page: a strict CSP (no script at all; the one stylesheet allowed by its hash), no
 * framing (CSP `frame-ancestors` and `X-Frame-Options` for older browsers). `formAction` lists where
 * the page's form may post and, since browsers apply `form-action` to the redirect that follows a
 * submission, where that redirect may go. `imgSrc` lists where its images may come from (a client's
 * logo); none otherwise.
 */
export function sendPage(
  reply: FastifyReply,
  status: number,
  html: string,
  styleHash: string,
  formAction: string[] = [],
  imgSrc: string[] = [],
): FastifyReply {
  const csp = [
    "default-src 'none'",
    `style-src '${styleHash}'`,
    ...(imgSrc.length > 0 ? [`img-src ${imgSrc.join(' ')}`] : []),
    `form-action ${formAction.length > 0 ? formAction.join(' ') : "'none'"}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ')
  return privateHeaders(reply)
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', csp)
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
    .send(html)
}

/** Sends the browser to `location` with 303 (a POST becomes a GET there). */
export function sendRedirect(reply: FastifyReply, location: string): FastifyReply {
  return privateHeaders(reply).code(303).header('location', location).send()
}

/**
 * The CSP source that lets a form submission be redirected to `redirectUri`: its origin, or its
 * scheme for a private-use scheme (RFC 8252 §7.1), whose URLs have no origin.
 */
export function redirectSource(redirectUri: string): string {
  const url = new URL(redirectUri)
  return url.origin !== 'null' ? url.origin : url.protocol
}

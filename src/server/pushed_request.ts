/**
 * Pushed authorization requests (RFC 9126): the `request_uri` that stands for a pushed request, how it
 * is stored and taken, and the mark that lets the login form carry a pushed request's parameters.
 *
 * - A `request_uri` is `urn:ietf:params:oauth:request_uri:` and 256 random bits (RFC 9126 §2.2: it
 *   must be hard to guess); only its SHA-256 is stored, so a copy of the database holds none.
 * - Taking one deletes it (single use, RFC 9126 §4), only for the client that pushed it, only before
 *   it expires.
 * - The login page is rendered after the request is taken, so it carries the resolved parameters as
 *   hidden fields, like any other request, plus a mark: HMAC(key, CSRF token, parameters). The login
 *   POST checks the mark to know that these parameters came from a pushed request (what a client
 *   registered with `requirePar` needs) without taking the request again. The mark is bound to the
 *   browser's CSRF token, so it is as hard to forge for another browser as the CSRF token itself; with
 *   a key-encryption secret configured, the key is secret too and it cannot be forged at all.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { ServeConfig } from '../config.js'
import type { Store } from '../store/types.js'

/** RFC 9126 §2.2: the URN prefix of the request URIs this server hands out. */
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:'
/** RFC 9126 §2.2: a short life; the client redirects the browser at once. */
export const PUSHED_REQUEST_SECONDS = 60
/** The login form's hidden field with the mark of a pushed request. */
export const PUSHED_FIELD = 'pushed_request'

// 32 random bytes, base64url without padding.
const REFERENCE = /^[A-Za-z0-9_-]{43}$/

/** SHA-256 of the whole `request_uri`, base64url: the key it is stored under. */
function requestUriHash(requestUri: string): string {
  return createHash('sha256').update(requestUri).digest('base64url')
}

/**
 * Stores a pushed request of `clientId` and returns its `request_uri` and lifetime in seconds.
 * Does not check the parameters: the caller has.
 * @see https://www.rfc-editor.org/rfc/rfc9126#section-2.2
 */
export async function pushRequest(
  store: Store,
  clientId: string,
  params: Record<string, string>,
  now: number,
): Promise<{ requestUri: string; expiresIn: number }> {
  const requestUri = REQUEST_URI_PREFIX + randomBytes(32).toString('base64url')
  await store.putPushed({
    hash: requestUriHash(requestUri),
    clientId,
    params,
    expiresAt: now + PUSHED_REQUEST_SECONDS,
  })
  return { requestUri, expiresIn: PUSHED_REQUEST_SECONDS }
}

/**
 * Takes the pushed request that `requestUri` names for `clientId`: its parameters, or `null` when it
 * is not one of ours, unknown, expired, used already or another client's. Single use.
 * @see https://www.rfc-editor.org/rfc/rfc9126#section-4
 */
export async function takePushedRequest(
  store: Store,
  requestUri: string,
  clientId: string,
  now: number,
): Promise<Record<string, string> | null> {
  // Not the shape of ours: nothing to look up.
  if (!requestUri.startsWith(REQUEST_URI_PREFIX)) return null
  if (!REFERENCE.test(requestUri.slice(REQUEST_URI_PREFIX.length))) return null
  return store.takePushed(requestUriHash(requestUri), clientId, now)
}

/** The key of the login form's mark, derived from the configuration like the CSRF key. */
export function pushedMarkKey(config: ServeConfig): Buffer {
  return createHash('sha256')
    .update('latchkey pushed request v1\0')
    .update(config.keyEncryptionSecret ?? '')
    .update('\0')
    .update(config.issuer)
    .digest()
}

/** The mark of a pushed request's parameters on a login form with this CSRF token. */
export function pushedMark(key: Buffer, csrfToken: string, params: Record<string, string>): string {
  return createHmac('sha256', key)
    .update(csrfToken)
    .update('\0')
    .update(JSON.stringify(Object.entries(params)))
    .digest('base64url')
}

/** Whether `mark` is the mark of `params` on a form with this CSRF token (constant time). */
export function checkPushedMark(
  key: Buffer,
  csrfToken: string | undefined,
  params: Record<string, string>,
  mark: string | undefined,
): boolean {
  if (csrfToken === undefined || mark === undefined || !REFERENCE.test(mark)) return false
  return timingSafeEqual(Buffer.from(pushedMark(key, csrfToken, params)), Buffer.from(mark))
}

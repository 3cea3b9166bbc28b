/**
 * Pushed authorization requests (RFC 9126): the `request_uri` that stands for a pushed request, how it
 * is stored and taken, and the mark that lets the login form carry a pushed request's parameters.
 *
 * - A `request_uri` is `urn:ietf:params:oauth:request_uri:` and 256 random bits (RFC 9126 §2.2: it
 *   must be hard to guess); only its SHA-256 is stored, so a copy of the database holds none.
 * - Taking one deletes it (single use, RFC 9126 §4), only for the client that pushed it, only before
 *   it expires.
 * - The login page is rendered after the request is taken. Its parameters are stored again, under a
 *   new random handle that the form carries (`carryPushed`); the login POST takes them back once
 *   (`takeCarried`) and uses them, not the form's fields. So the parameters a client registered with
 *   `requirePar` gets are always the ones it pushed, whatever the browser sends; each rendering of the
 *   form (a wrong password shows it again) carries a new handle.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Store } from '../store/types.js'

/** RFC 9126 §2.2: the URN prefix of the request URIs this server hands out. */
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:'
/** RFC 9126 §2.2: a short life; the client redirects the browser at once. */
export const PUSHED_REQUEST_SECONDS = 60
/** The login form's hidden field with the handle of the pushed request it carries. */
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

/** How long a login form may carry a pushed request: the time a person takes to sign in. */
export const CARRIED_SECONDS = 600

/** Where a carried request is stored: apart from every `request_uri` (a different hash input). */
function carriedHash(handle: string): string {
  return createHash('sha256').update('latchkey login form\0').update(handle).digest('base64url')
}

/**
 * Keeps a pushed request's parameters for the login form that shows it, under a new random handle the
 * form carries: the login POST takes them back with `takeCarried`, once, for the same client. The
 * form's own copies of the parameters are only for display; nothing the browser sends can pass for
 * a pushed request, with or without a key-encryption secret.
 */
export async function carryPushed(
  store: Store,
  clientId: string,
  params: Record<string, string>,
  now: number,
): Promise<string> {
  const handle = randomBytes(32).toString('base64url')
  await store.putPushed({
    hash: carriedHash(handle),
    clientId,
    params,
    expiresAt: now + CARRIED_SECONDS,
  })
  return handle
}

/** The parameters a login form carried for `clientId`, or `null` (unknown, used, expired, foreign). */
export async function takeCarried(
  store: Store,
  handle: string | undefined,
  clientId: string | undefined,
  now: number,
): Promise<Record<string, string> | null> {
  if (handle === undefined || clientId === undefined || !REFERENCE.test(handle)) return null
  return store.takePushed(carriedHash(handle), clientId, now)
}

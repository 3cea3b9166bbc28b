/**
 * Consent for third-party clients (OpenID Connect Core §3.1.2.4): when the user must be asked, and
 * the mark that ties a consent form to the browser login and the exact request it was shown for.
 *
 * A first-party client (the default) never asks. A third-party client asks unless the user's
 * remembered consent covers every scope of the request, or always with `prompt=consent`. An
 * approval is all-or-nothing: exactly the scopes the page listed.
 *
 * The consent form carries, besides the CSRF token (`./browser.ts`), HMAC(key, login hash, request
 * parameters): its POST is honoured only from the same live login, for the same parameters, so a
 * form shown to one login cannot approve for another, and hidden fields changed after the page was
 * shown (a wider scope) are refused rather than granted. The key is the CSRF key, under its own label.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Store } from '../store/types.js'
import type { AuthorizationRequest } from './authorization_request.js'
import type { BrowserSettings } from './browser.js'

/** The consent form's hidden field with its mark. */
export const CONSENT_FIELD = 'consent_token'
/** The consent form's buttons: `name="decision"`, `approve` or `cancel`. */
export const DECISION_FIELD = 'decision'

/**
 * Whether `userId` must be asked before a code is issued for `authz`: only for a third-party client,
 * with `prompt=consent`, or when no remembered consent covers every requested scope.
 */
export async function consentNeeded(
  store: Store,
  authz: AuthorizationRequest,
  userId: string,
): Promise<boolean> {
  if (!authz.client.thirdParty) return false
  if (authz.prompt.has('consent')) return true
  const consent = await store.getConsent(userId, authz.client.clientId)
  if (consent === null) return true
  const granted = new Set(consent.scope)
  return !authz.scope.every((s) => granted.has(s))
}

function mark(s: BrowserSettings, loginHash: string, params: Readonly<Record<string, string>>) {
  return createHmac('sha256', s.csrfKey)
    .update('latchkey consent v1\0')
    .update(loginHash)
    .update('\0')
    .update(JSON.stringify(params))
    .digest('base64url')
}

/** The mark of a consent form shown to the login `loginHash` for the request `params`. */
export function consentToken(
  s: BrowserSettings,
  loginHash: string,
  params: Readonly<Record<string, string>>,
): string {
  return mark(s, loginHash, params)
}

/** Whether `field` is the mark of a form shown to `loginHash` for exactly `params`. */
export function checkConsentToken(
  s: BrowserSettings,
  loginHash: string,
  params: Readonly<Record<string, string>>,
  field: string | undefined,
): boolean {
  if (field === undefined) return false
  const expected = Buffer.from(mark(s, loginHash, params))
  const given = Buffer.from(field)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

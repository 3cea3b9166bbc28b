/**
 * A user's profile: which OpenID Connect standard claims (OIDC Core §5.1) Latchkey keeps, what each
 * may hold, and which of them a scope releases (OIDC Core §5.4). Shared by the `user` operations,
 * which validate what an operator sets, and the userinfo endpoint, which serves it.
 */
import type { UserProfile } from './store/types.js'

/** A user who has told nothing about themselves. */
export const NO_PROFILE: Readonly<UserProfile> = Object.freeze({
  email: null,
  emailVerified: false,
  name: null,
  givenName: null,
  familyName: null,
})

/** Most characters of a name claim. */
export const MAX_NAME_LENGTH = 200
/** Most characters of an address: RFC 5321 §4.5.3.1.3's path limit less its angle brackets. */
export const MAX_EMAIL_LENGTH = 254

// RFC 5322 §3.4.1 addr-spec, loosely: a dot-atom local part (atext and dots, RFC 5322 §3.2.3; no
// quoted strings), `@`, and a domain of dot-separated labels (no domain literals). Enough to catch
// a typo; whether the address works is the operator's to check (`--email-verified`).
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
const EMAIL = new RegExp(`^${ATEXT}+(?:\\.${ATEXT}+)*@${LABEL}(?:\\.${LABEL})*$`)

/** Whether `email` is a plausible address (see `EMAIL` above), at most 254 characters, local part 64. */
export function isEmail(email: string): boolean {
  const at = email.lastIndexOf('@')
  return email.length <= MAX_EMAIL_LENGTH && at > 0 && at <= 64 && EMAIL.test(email)
}

/**
 * Whether `name` may be a name claim: 1–200 characters of any script, none of them a control, format
 * (bidirectional overrides, zero-width), line or paragraph separator, or unpaired surrogate, and no
 * space at either end.
 */
export function isDisplayName(name: string): boolean {
  return (
    name.length > 0 &&
    [...name].length <= MAX_NAME_LENGTH &&
    name === name.trim() &&
    !/[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u.test(name)
  )
}

/** The claims of `profile` that `scopes` release (OIDC Core §5.4), only those set. Never `sub`. */
export function profileClaims(
  profile: UserProfile,
  scopes: readonly string[],
): Record<string, string | boolean> {
  const claims: Record<string, string | boolean> = {}
  if (scopes.includes('profile')) {
    if (profile.name !== null) claims.name = profile.name
    if (profile.givenName !== null) claims.given_name = profile.givenName
    if (profile.familyName !== null) claims.family_name = profile.familyName
  }
  if (scopes.includes('email') && profile.email !== null) {
    claims.email = profile.email
    claims.email_verified = profile.emailVerified
  }
  return claims
}

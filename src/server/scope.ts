/**
 * Scope (RFC 6749 §3.3): a space-delimited list of scope-tokens, each 1*( %x21 / %x23-5B / %x5D-7E ).
 */
import { OAuthError } from '../errors.js'

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

/** Whether `token` is a syntactically valid scope-token. */
export function isScopeToken(token: string): boolean {
  return SCOPE_TOKEN.test(token)
}

/** Splits a scope parameter into its distinct tokens. Throws `invalid_scope` on bad syntax. */
export function parseScope(value: string): string[] {
  const tokens = value.split(' ')
  if (tokens.some((t) => !isScopeToken(t))) {
    throw new OAuthError('invalid_scope', 'scope is malformed')
  }
  return [...new Set(tokens)]
}

/** Splits a stored (already valid) space-separated scope; `''` is no scope. */
export function scopeList(scope: string): string[] {
  return scope === '' ? [] : scope.split(' ')
}

/** The scope of the admin API (`endpoints/admin.ts`): for operators' service clients. */
export const ADMIN_SCOPE = 'latchkey:admin'

/**
 * `scope` without `latchkey:admin` unless `user` holds the admin role: a user's login or refresh never
 * yields the admin scope otherwise, whatever the client may be granted (RFC 6749 §3.3 lets the server
 * grant less than was asked).
 */
export function scopeForUser(scope: string[], user: { admin: boolean } | null): string[] {
  return user?.admin ? scope : scope.filter((s) => s !== ADMIN_SCOPE)
}

/**
 * The scope to grant: what was asked, when every part of it is allowed; everything allowed when nothing
 * was asked. Throws `invalid_scope` for anything not allowed (RFC 6749 §5.2). `limit` names what bounds
 * it in the error: the client's registered scopes, the original grant (a refresh, RFC 6749 §6), the
 * subject token (a token exchange).
 */
export function grantScope(
  requested: string | undefined,
  allowed: readonly string[],
  limit = 'what this client may have',
): string[] {
  if (requested === undefined) return [...allowed]
  const asked = parseScope(requested)
  if (asked.some((s) => !allowed.includes(s))) {
    throw new OAuthError('invalid_scope', `the requested scope exceeds ${limit}`)
  }
  return asked
}

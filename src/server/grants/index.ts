/**
 * The grant types the token endpoint implements: adding one is one module exporting a `Grant`
 * (`./types.ts`) and one line here. The metadata's `grant_types_supported`, the token endpoint's
 * dispatch and the CLI's `--grant` check all read this list.
 */
import { authorizationCode } from './authorization_code.js'
import { clientCredentials } from './client_credentials.js'
import { refreshToken } from './refresh_token.js'
import { tokenExchange } from './token_exchange.js'
import type { Grant } from './types.js'

export const GRANTS: readonly Grant[] = [
  authorizationCode,
  clientCredentials,
  refreshToken,
  tokenExchange,
]

const byType = new Map(GRANTS.map((g) => [g.type, g]))

/** The grant registered under `type`, or `undefined`. */
export function findGrant(type: string): Grant | undefined {
  return byType.get(type)
}

/** Every `grant_type` value, in registration order. */
export const GRANT_TYPES: readonly string[] = GRANTS.map((g) => g.type)

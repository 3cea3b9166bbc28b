/**
 * `none` (RFC 7591 §2): a public client names itself with `client_id` and proves nothing; PKCE and
 * refresh-token binding protect its tokens instead. Used only when a request carries no credentials
 * of another method.
 */
import type { ClientAuthStrategy } from './strategy.js'

export const none: ClientAuthStrategy = {
  method: 'none',
  proves: false,
  maxCredential: 0,
  read(authorization, params) {
    const clientId = params.client_id
    if (authorization !== undefined || clientId === undefined || clientId === '') return undefined
    return { method: 'none', clientId, credential: null }
  },
  check(_presented, client) {
    return { known: Promise.resolve(client !== null) }
  },
}

/**
 * The clients every system under test knows, with the same ids and secret everywhere, and the names
 * of the reference server's resources and endpoints.
 */

export const JWT_CLIENT = 'bench-jwt'
export const OPAQUE_CLIENT = 'bench-opaque'
/** Introspects the others' tokens (Latchkey: `--resource-server`). */
export const RESOURCE_SERVER = 'bench-api'
/** Latchkey only: the API gateway of the gateway cases (`--resource-server --audience`). */
export const GATEWAY_CLIENT = 'bench-gateway'
export const GATEWAY_AUDIENCE = 'https://bench-api.example'
/** Latchkey only: authorization_code + refresh_token, for the refresh grant case. */
export const WEB_CLIENT = 'bench-web'
export const WEB_REDIRECT = 'https://app.example/callback'
export const USER = { username: 'bench-user', password: 'bench password 0123456789' }

/** One secret for every client; Latchkey's CLI requires at least 20 characters. */
export const SECRET = 'bench-secret-0123456789-abcdefghij'

export const FORM = 'application/x-www-form-urlencoded'

/** The reference server (oidc-provider): its resource indicators and endpoint paths. */
export const REFERENCE = {
  jwtResource: 'urn:bench:jwt',
  opaqueResource: 'urn:bench:opaque',
  tokenPath: '/token',
  introspectionPath: '/token/introspection',
} as const

/** HTTP Basic client authentication (RFC 6749 §2.3.1; the ids and secret need no escaping). */
export function basic(clientId: string): string {
  return `Basic ${Buffer.from(`${clientId}:${SECRET}`).toString('base64')}`
}

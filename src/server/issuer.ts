/**
 * Where things are under the issuer URL (RFC 8414 §3.1): shared by the endpoints that build their
 * paths from it (the metadata, the login form's action) and the CLI that prints where the metadata is.
 */

export const METADATA_PATH = '/.well-known/oauth-authorization-server'

/** OpenID Connect Discovery 1.0 §4: the provider configuration, appended to the issuer. */
export const OPENID_CONFIGURATION_PATH = '/.well-known/openid-configuration'

/** The issuer's path without its trailing slash: `''` for `https://h`, `/auth` for `https://h/auth`. */
export function issuerPath(issuer: string): string {
  return new URL(issuer).pathname.replace(/\/+$/, '')
}

/** Where RFC 8414 §3.1 puts the metadata of `issuer`: the well-known segment before its path. */
export function metadataUrl(issuer: string): string {
  return new URL(issuer).origin + METADATA_PATH + issuerPath(issuer)
}

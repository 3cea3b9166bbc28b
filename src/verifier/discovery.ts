/**
 * Authorization server metadata (RFC 8414): where the JWKS, introspection and the revocation feed are.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
import { fetchJSON, UpstreamError } from './http.js'

export interface ServerMetadata {
  issuer: string
  jwksUri: string
  introspectionEndpoint: string | undefined
  revocationFeedEndpoint: string | undefined
}

function optionalUrl(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !URL.canParse(value)) {
    throw new UpstreamError(`metadata: ${name} is not a URL`)
  }
  return value
}

/**
 * Fetches `{issuer}/.well-known/oauth-authorization-server` and checks that it names the same issuer
 * (RFC 8414 §3.3: otherwise the metadata MUST NOT be used). Rejects with `UpstreamError`.
 */
export async function discoverMetadata(
  issuer: string,
  fetchFn: typeof fetch,
  timeoutMs: number,
): Promise<ServerMetadata> {
  // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
  const parsed = new URL(issuer)
  const path = parsed.pathname === '/' ? '' : parsed.pathname
  const init = { headers: { accept: 'application/json' } }
  let res = await fetchJSON(
    fetchFn,
    `${parsed.origin}/.well-known/oauth-authorization-server${path}`,
    init,
    timeoutMs,
  )
  if (res.status === 404 && path !== '') {
    // A server behind a proxy that strips the issuer's path publishes it under that path instead.
    res = await fetchJSON(
      fetchFn,
      `${issuer}/.well-known/oauth-authorization-server`,
      init,
      timeoutMs,
    )
  }
  if (res.status !== 200) throw new UpstreamError(`metadata answered ${res.status}`, res.status)
  const m = res.body as Record<string, unknown>
  if (typeof m !== 'object' || m === null) throw new UpstreamError('metadata is not an object')
  const announced = typeof m.issuer === 'string' ? m.issuer.replace(/\/$/, '') : undefined
  if (announced !== issuer) {
    throw new UpstreamError('metadata names another issuer (RFC 8414 §3.3)')
  }
  const jwksUri = optionalUrl(m.jwks_uri, 'jwks_uri')
  if (jwksUri === undefined) throw new UpstreamError('metadata has no jwks_uri')
  return {
    issuer,
    jwksUri,
    introspectionEndpoint: optionalUrl(m.introspection_endpoint, 'introspection_endpoint'),
    revocationFeedEndpoint: optionalUrl(
      m.latchkey_revocation_endpoint,
      'latchkey_revocation_endpoint',
    ),
  }
}

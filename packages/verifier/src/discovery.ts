/**
 * Authorization server metadata (RFC 8414): where the JWKS, introspection and the revocation feed are.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
import { fetchJSON, UpstreamError, type JSONResponse } from './http.js'

export interface ServerMetadata {
  issuer: string
  jwksUri: string
  introspectionEndpoint: string | undefined
  revocationFeedEndpoint: string | undefined
}

/** A metadata document that cannot be used as it is: retrying will not help. */
const unusable = (message: string, status?: number, cause?: unknown): UpstreamError =>
  new UpstreamError(message, status, { cause, definitive: true })

function optionalUrl(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !URL.canParse(value)) {
    throw unusable(`metadata: ${name} is not a URL`)
  }
  return value
}

/**
 * GETs the metadata at `url`. A 5xx, a 429 or a network failure is the server being down (retry); any
 * other status but 200, or a body that is not JSON, means nothing usable is at this URL (`definitive`).
 */
async function fetchMetadata(
  fetchFn: typeof fetch,
  url: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<JSONResponse> {
  const init = { headers: { accept: 'application/json' } }
  let res: JSONResponse
  try {
    res = await fetchJSON(fetchFn, url, init, timeoutMs, signal)
  } catch (err) {
    const status = err instanceof UpstreamError ? err.status : undefined
    if (status === undefined || status >= 500 || status === 429) throw err
    if (status === 404) return { status, headers: new Headers(), body: undefined }
    throw unusable(`the metadata at ${url} is not JSON (${status})`, status, err)
  }
  return res
}

/**
 * Fetches `{issuer}/.well-known/oauth-authorization-server` and checks that it names the same issuer
 * (RFC 8414 §3.3: otherwise the metadata MUST NOT be used). Rejects with `UpstreamError`,
 * `definitive` when the issuer URL is wrong rather than its server down.
 */
export async function discoverMetadata(
  issuer: string,
  fetchFn: typeof fetch,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ServerMetadata> {
  // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
  const parsed = new URL(issuer)
  const path = parsed.pathname === '/' ? '' : parsed.pathname
  let url = `${parsed.origin}/.well-known/oauth-authorization-server${path}`
  let res = await fetchMetadata(fetchFn, url, timeoutMs, signal)
  if (res.status === 404 && path !== '') {
    // A server behind a proxy that strips the issuer's path publishes it under that path instead.
    url = `${issuer}/.well-known/oauth-authorization-server`
    res = await fetchMetadata(fetchFn, url, timeoutMs, signal)
  }
  if (res.status >= 500 || res.status === 429) {
    throw new UpstreamError(`the metadata at ${url} answered ${res.status}`, res.status)
  }
  if (res.status !== 200) {
    throw unusable(`no authorization server metadata at ${url} (${res.status})`, res.status)
  }
  const m = res.body as Record<string, unknown>
  if (typeof m !== 'object' || m === null) throw unusable(`the metadata at ${url} is not an object`)
  const announced = typeof m.issuer === 'string' ? m.issuer.replace(/\/$/, '') : undefined
  if (announced !== issuer) {
    // RFC 8414 §3.3: metadata naming another issuer MUST NOT be used.
    const named = announced === undefined ? '(none)' : announced.slice(0, 200)
    throw unusable(`metadata names issuer ${named}, expected ${issuer}`)
  }
  const jwksUri = optionalUrl(m.jwks_uri, 'jwks_uri')
  if (jwksUri === undefined) throw unusable('metadata has no jwks_uri')
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

/**
 * Token introspection (RFC 7662) for opaque access tokens, authenticated as this API's client. Only an
 * active access token of this issuer and for this audience comes back as claims: a refresh token
 * (`token_type` other than Bearer), another issuer's or another audience's token is inactive here.
 * Does not cache and does not check revocations: the verifier does both.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
import { isConfirmation, type AccessTokenClaims } from './jwt.js'
import { fetchJSON, isRefusal, UpstreamError } from './http.js'

export interface IntrospectionOptions {
  endpoint: string
  authorization: string
  issuer: string
  audience: string
  fetch: typeof fetch
  timeoutMs: number
  signal?: AbortSignal
}

export type IntrospectionResult =
  { active: true; claims: AccessTokenClaims } | { active: false; reason: string }

const inactive = (reason: string): IntrospectionResult => ({ active: false, reason })

/**
 * Posts the token to the introspection endpoint; rejects with `UpstreamError` when it cannot tell,
 * `definitive` when the endpoint refuses this API's credentials (401/403).
 */
export async function introspect(
  token: string,
  o: IntrospectionOptions,
  nowSeconds: number,
): Promise<IntrospectionResult> {
  const refused = (status: number): UpstreamError =>
    new UpstreamError(
      `the introspection endpoint refused this API's credentials (${status})`,
      status,
      { definitive: true },
    )
  const res = await fetchJSON(
    o.fetch,
    o.endpoint,
    {
      method: 'POST',
      headers: {
        authorization: o.authorization,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    },
    o.timeoutMs,
    o.signal,
  ).catch((err: unknown) => {
    // A refusal without a JSON body is a refusal all the same.
    if (err instanceof UpstreamError && err.status !== undefined && isRefusal(err.status)) {
      throw refused(err.status)
    }
    throw err
  })
  if (isRefusal(res.status)) throw refused(res.status)
  if (res.status !== 200)
    throw new UpstreamError(`introspection answered ${res.status}`, res.status)
  const r = res.body as Record<string, unknown>
  if (typeof r !== 'object' || r === null)
    throw new UpstreamError('introspection answer is not an object')
  if (r.active !== true) return inactive('token is not active')
  // RFC 7662 §2.2: token_type is optional; when present it must say this is an access token, a
  // bearer token or a DPoP-bound one (RFC 9449 §6.2).
  const tokenType = typeof r.token_type === 'string' ? r.token_type.toLowerCase() : r.token_type
  if (tokenType !== undefined && tokenType !== 'bearer' && tokenType !== 'dpop') {
    return inactive('not an access token')
  }
  // RFC 9449 §6.2: a bound token's key thumbprint, as in a JWT's cnf.
  if (r.cnf !== undefined && !isConfirmation(r.cnf)) return inactive('cnf is malformed')
  if (r.iss !== undefined && r.iss !== o.issuer) return inactive('iss does not match')
  const aud = typeof r.aud === 'string' ? [r.aud] : Array.isArray(r.aud) ? r.aud : []
  if (!aud.includes(o.audience)) return inactive('aud does not match')
  const { exp, iat, sub, client_id, jti } = r
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return inactive('exp is missing')
  if (exp <= nowSeconds) return inactive('token has expired')
  if (typeof sub !== 'string' || typeof client_id !== 'string') {
    return inactive('sub or client_id is missing')
  }
  const claims: AccessTokenClaims = {
    iss: o.issuer,
    sub,
    aud: r.aud as string | string[],
    exp,
    iat: typeof iat === 'number' ? iat : nowSeconds,
    jti: typeof jti === 'string' ? jti : '',
    client_id,
  }
  if (typeof r.scope === 'string' && r.scope !== '') claims.scope = r.scope
  if (typeof r.sid === 'string') claims.sid = r.sid
  if (r.cnf !== undefined) claims.cnf = r.cnf
  return { active: true, claims }
}

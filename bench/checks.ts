/**
 * Checks that an answer is real, shared by the cases and the session pool: a 200 JSON object, and a
 * token response whose JWT verifies against the issuing system's own JWKS.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { basic, FORM } from './clients.js'

/** POSTs a form with Basic client authentication; the status and the body as text. */
export async function postForm(
  url: string,
  clientId: string,
  body: string,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: basic(clientId), 'content-type': FORM, ...extraHeaders },
    body,
    signal: AbortSignal.timeout(10_000),
  })
  return { status: response.status, text: await response.text() }
}

/** The JSON object of a 200 answer; throws with the status and body otherwise. */
export async function postForJSON(
  url: string,
  clientId: string,
  body: string,
): Promise<Record<string, unknown>> {
  const { status, text } = await postForm(url, clientId, body)
  if (status !== 200) throw new Error(`POST ${url} answered ${status}: ${text}`)
  const json = JSON.parse(text) as unknown
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`POST ${url} answered something other than a JSON object: ${text}`)
  }
  return json as Record<string, unknown>
}

const jwksCache = new Map<string, ReturnType<typeof createRemoteJWKSet>>()

/** The system's JWKS, found through its metadata (RFC 8414, else OpenID Connect Discovery). */
async function jwksOf(baseUrl: string): Promise<ReturnType<typeof createRemoteJWKSet>> {
  const cached = jwksCache.get(baseUrl)
  if (cached) return cached
  for (const path of [
    '/.well-known/oauth-authorization-server',
    '/.well-known/openid-configuration',
  ]) {
    const response = await fetch(baseUrl + path, { signal: AbortSignal.timeout(10_000) })
    if (!response.ok) continue
    const { jwks_uri: uri } = (await response.json()) as { jwks_uri?: unknown }
    if (typeof uri !== 'string') continue
    const jwks = createRemoteJWKSet(new URL(uri))
    jwksCache.set(baseUrl, jwks)
    return jwks
  }
  throw new Error(`${baseUrl} publishes no metadata with a jwks_uri`)
}

/**
 * Checks a token response: a Bearer token with a positive `expires_in`; for a JWT, an ES256
 * `at+jwt` whose signature verifies against the JWKS that the node at `baseUrl` publishes, with
 * `issuer` as `iss` (the system itself, unless several nodes share one issuer); for an opaque token,
 * a long base64url string that is not a JWT. Returns the token.
 */
export async function checkTokenResponse(
  baseUrl: string,
  json: Record<string, unknown>,
  format: 'jwt' | 'opaque',
  issuer = baseUrl,
): Promise<string> {
  const token = json.access_token
  if (typeof token !== 'string') throw new Error(`no access_token in ${JSON.stringify(json)}`)
  if (json.token_type !== 'Bearer') throw new Error(`token_type is not Bearer`)
  if (typeof json.expires_in !== 'number' || json.expires_in <= 0) {
    throw new Error('no positive expires_in')
  }
  const compactJWS = /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/.test(token)
  if (format === 'opaque') {
    if (compactJWS || !/^[\w-]{32,}$/.test(token)) {
      throw new Error('access_token is not an opaque base64url token')
    }
    return token
  }
  if (!compactJWS) throw new Error('access_token is not a compact JWS')
  const { protectedHeader } = await jwtVerify(token, await jwksOf(baseUrl), {
    issuer,
    algorithms: ['ES256'],
    typ: 'at+jwt',
  })
  if (protectedHeader.alg !== 'ES256') throw new Error('JWT is not ES256')
  return token
}

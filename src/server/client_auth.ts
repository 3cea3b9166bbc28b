/**
 * Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3):
 * `client_secret_basic`, `client_secret_post`, and `none` for public clients. Exactly one method per
 * request; secrets verified in constant time against their hash; failures throttled per address and per
 * client+address, with the same error and the same cost whether the client exists or not.
 */
import type { Socket } from 'node:net'
import type { FastifyRequest } from 'fastify'
import { OAuthError } from '../errors.js'
import type { ClientRecord } from '../store/types.js'
import { HasherBusy } from '../tokens/hashing.js'
import type { ServerContext } from './context.js'
import type { FormParams } from './form.js'

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none'

export interface PresentedCredentials {
  clientId: string
  secret: string | null
  method: ClientAuthMethod
}

export interface AuthenticatedClient {
  client: ClientRecord
  method: ClientAuthMethod
}

const MAX_CLIENT_ID = 255
const MAX_SECRET = 512
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/
// RFC 6749 Appendix A.1, A.2: client-id and client-secret are *VSCHAR (%x20-7E). Anything else, such as
// a look-alike letter from another script, is malformed rather than merely unknown.
const VSCHAR = /^[\x20-\x7e]*$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

function malformed(description: string): OAuthError {
  return new OAuthError('invalid_request', description)
}

/** RFC 6749 §2.3.1: the Basic credentials are form-urlencoded before base64. */
function formDecode(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '))
  } catch {
    throw malformed('malformed Basic credentials')
  }
}

function parseBasic(header: string): { clientId: string; secret: string } {
  const space = header.indexOf(' ')
  const scheme = header.slice(0, space).toLowerCase()
  const value = header.slice(space + 1).trim()
  if (space < 0 || scheme !== 'basic') {
    throw malformed('unsupported Authorization scheme: use Basic')
  }
  if (value.length % 4 !== 0 || !BASE64.test(value)) throw malformed('malformed Basic credentials')
  const bytes = Buffer.from(value, 'base64')
  // Canonical base64 only (RFC 4648 §3.5: pad bits zero): one header string per credentials.
  if (bytes.toString('base64') !== value) throw malformed('malformed Basic credentials')
  let decoded: string
  try {
    decoded = utf8.decode(bytes)
  } catch {
    throw malformed('malformed Basic credentials')
  }
  const colon = decoded.indexOf(':')
  if (colon < 0) throw malformed('malformed Basic credentials')
  return {
    clientId: formDecode(decoded.slice(0, colon)),
    secret: formDecode(decoded.slice(colon + 1)),
  }
}

/**
 * Reads the client's credentials from the request without checking them. Throws `invalid_request` when
 * more than one method is used (RFC 6749 §2.3) or the header is malformed, `invalid_client` when none is.
 */
export function readClientCredentials(
  authorization: string | undefined,
  params: FormParams,
): PresentedCredentials {
  const presented = readPresented(authorization, params)
  if (
    !VSCHAR.test(presented.clientId) ||
    (presented.secret !== null && !VSCHAR.test(presented.secret))
  ) {
    throw malformed('client credentials must be printable ASCII')
  }
  return presented
}

function readPresented(
  authorization: string | undefined,
  params: FormParams,
): PresentedCredentials {
  const bodyId = params.client_id
  const bodySecret = params.client_secret
  if (authorization !== undefined) {
    if (bodySecret !== undefined) {
      throw malformed('use one client authentication method, not Basic and client_secret together')
    }
    const basic = parseBasic(authorization)
    if (bodyId !== undefined && bodyId !== basic.clientId) {
      throw malformed('client_id does not match the Basic credentials')
    }
    return { ...basic, method: 'client_secret_basic' }
  }
  if (bodyId === undefined || bodyId === '') {
    throw new OAuthError('invalid_client', 'client authentication is required')
  }
  if (bodySecret !== undefined)
    return { clientId: bodyId, secret: bodySecret, method: 'client_secret_post' }
  return { clientId: bodyId, secret: null, method: 'none' }
}

function failed(): OAuthError {
  return new OAuthError('invalid_client', 'client authentication failed')
}

/**
 * Basic credentials verified on a connection: the exact header, the client, and the stored hash the
 * secret was checked against. A keep-alive client repeats the header on every request; it is parsed and
 * its secret checked once per connection (docs/PERFORMANCE.md, "Client authentication once per connection"). The client is still looked up on
 * every request (through the client cache), so a changed secret or a deleted client ends the memo
 * within the cache's TTL. Only `client_secret_basic` is remembered: never a body secret, never a public
 * client.
 *
 * The header (so the secret) stays referenced for the life of the connection. The `===` on it is not
 * constant-time, but it only compares a connection's header with that same connection's earlier one.
 */
interface VerifiedBasic {
  header: string
  clientId: string
  secretHash: string
}

const verifiedOnSocket = new WeakMap<Socket, VerifiedBasic>()

/** Throws the 429 when the address, or the client from this address, has failed too often. */
function checkThrottle(
  ctx: ServerContext,
  addressKey: string,
  clientKey: string,
  now: number,
): void {
  const limits = ctx.config.rateLimit
  const wait = Math.max(
    ctx.clientAuthFailures.retryAfter(addressKey, limits.perAddress, now),
    ctx.clientAuthFailures.retryAfter(clientKey, limits.perClient, now),
  )
  if (wait > 0) {
    throw new OAuthError(
      'temporarily_unavailable',
      'too many failed client authentications; retry later',
      { status: 429, retryAfter: wait },
    )
  }
}

/**
 * Authenticates the calling client. A public client (no stored secret) authenticates with `none`; a
 * confidential one needs its secret. Throws `invalid_client` (401) on failure, a 429 when the
 * address or client+address has failed too often (also on a connection that authenticated before),
 * and a 503 `temporarily_unavailable` when too many secrets are being hashed already. Does not check
 * what the client may do.
 */
export async function authenticateClient(
  request: FastifyRequest,
  params: FormParams,
  ctx: ServerContext,
): Promise<AuthenticatedClient> {
  const authorization = request.headers.authorization
  const socket = request.raw.socket
  const memo = authorization === undefined ? undefined : verifiedOnSocket.get(socket)
  if (
    memo !== undefined &&
    memo.header === authorization &&
    params.client_id === undefined &&
    params.client_secret === undefined
  ) {
    // The throttle still applies: it belongs to the address, whatever this connection proved before.
    checkThrottle(ctx, `a:${request.ip}`, `c:${request.ip}:${memo.clientId}`, ctx.clock())
    const client = await ctx.clients.get(memo.clientId)
    if (client !== null && client.secretHash === memo.secretHash) {
      return { client, method: 'client_secret_basic' }
    }
    verifiedOnSocket.delete(socket)
  }

  const presented = readClientCredentials(authorization, params)
  const now = ctx.clock()
  const addressKey = `a:${request.ip}`
  const clientKey = `c:${request.ip}:${presented.clientId}`
  checkThrottle(ctx, addressKey, clientKey, now)
  const countFailure = (): void => {
    ctx.clientAuthFailures.fail(addressKey, now)
    ctx.clientAuthFailures.fail(clientKey, now)
  }
  const forgive = (): void => {
    ctx.clientAuthFailures.forgive(addressKey, now)
    ctx.clientAuthFailures.forgive(clientKey, now)
  }
  const tooLong =
    presented.clientId.length > MAX_CLIENT_ID ||
    (presented.secret !== null && presented.secret.length > MAX_SECRET)
  if (tooLong) {
    countFailure()
    throw failed()
  }
  const client = await ctx.clients.get(presented.clientId)
  if (presented.secret === null) {
    if (client && client.secretHash === null) return { client, method: 'none' }
    countFailure()
    throw failed()
  }
  const encoded = client ? client.secretHash : null
  // A secret verified before, or being checked right now, costs no hash: not counted in advance, so
  // that a client's parallel first requests do not throttle it.
  const known = ctx.secrets.withoutHash(presented.clientId, presented.secret, encoded)
  const reserved = known === undefined
  if (reserved) {
    // A new hash. Counted as a failure before it runs, in the same tick as the check (again: time
    // passed during the lookup), so that parallel attempts cannot all pass the throttle: at most the
    // limit of secrets is ever hashed per window per address. Forgiven on success, and when the
    // secret could not be checked at all.
    checkThrottle(ctx, addressKey, clientKey, now)
    countFailure()
  }
  const check = known ?? ctx.secrets.verify(presented.clientId, presented.secret, encoded)
  let ok: boolean
  try {
    ok = await check
  } catch (err) {
    if (reserved) forgive()
    if (err instanceof HasherBusy) {
      throw new OAuthError(
        'temporarily_unavailable',
        'too many client authentications at once; retry later',
        { status: 503, retryAfter: 1 },
      )
    }
    throw err
  }
  if (!ok || !client) {
    if (!reserved) countFailure()
    throw failed()
  }
  if (reserved) forgive()
  if (
    presented.method === 'client_secret_basic' &&
    authorization !== undefined &&
    client.secretHash !== null
  ) {
    verifiedOnSocket.set(socket, {
      header: authorization,
      clientId: client.clientId,
      secretHash: client.secretHash,
    })
  }
  return { client, method: presented.method }
}

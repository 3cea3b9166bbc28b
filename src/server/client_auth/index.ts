/**
 * Client authentication at the token, introspection and revocation endpoints and the revocation feed
 * (RFC 6749 §2.3). The methods are strategies (`./strategy.ts`), one module each, listed in
 * `CLIENT_AUTH_STRATEGIES`; the metadata's `*_auth_methods_supported` are read from that list. What
 * every method shares is here:
 * - exactly one method per request (RFC 6749 §2.3), `none` only when no other is used;
 * - a client uses only the method it registered (RFC 7591 `token_endpoint_auth_method`);
 * - the same error (`invalid_client`, 401) and the same cost whether the client exists, uses another
 *   method, or presented the wrong credential;
 * - failures throttled per address and per client+address; new verification work (a hash, a
 *   signature) counted in advance, so parallel attempts cannot all pass the throttle.
 */
import { shortened } from '../../audit/record.js'
import type { FastifyRequest } from 'fastify'
import { OAuthError } from '../../errors.js'
import type { ClientRecord } from '../../store/types.js'
import { HasherBusy } from '../../tokens/hashing.js'
import type { ServerContext } from '../context.js'
import type { FormParams } from '../form.js'
import { clientSecretBasic, clientSecretPost } from './client_secret.js'
import { none } from './none.js'
import { privateKeyJwt } from './private_key_jwt.js'
import type { ClientAuthMethod, ClientAuthStrategy, Presented } from './strategy.js'
import { malformed } from './strategy.js'

export type { ClientAuthMethod, Presented } from './strategy.js'

/** Every method the server implements, `none` last: it applies only when no other one does. */
export const CLIENT_AUTH_STRATEGIES: readonly ClientAuthStrategy[] = [
  clientSecretBasic,
  clientSecretPost,
  privateKeyJwt,
  none,
]

const byMethod = new Map(CLIENT_AUTH_STRATEGIES.map((s) => [s.method, s]))

/** Methods that prove possession of a credential: what introspection and the feed accept. */
export function provingMethods(): ClientAuthMethod[] {
  return CLIENT_AUTH_STRATEGIES.filter((s) => s.proves).map((s) => s.method)
}

/** Every method, for the token and revocation endpoints' metadata. */
export function allMethods(): ClientAuthMethod[] {
  return CLIENT_AUTH_STRATEGIES.map((s) => s.method)
}

const EITHER_SECRET_METHOD: readonly ClientAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
]

/**
 * The methods a client may use: the one it registered; both secret methods for a client with a secret
 * registered without choosing one (`authMethod` null: `client create` without `--auth-method`).
 */
export function acceptedMethods(client: ClientRecord): readonly ClientAuthMethod[] {
  if (client.authMethod !== null) return [client.authMethod]
  return client.secretHash === null ? [] : EITHER_SECRET_METHOD
}

export interface AuthenticatedClient {
  client: ClientRecord
  method: ClientAuthMethod
}

const MAX_CLIENT_ID = 255
// RFC 6749 Appendix A.1, A.2: client-id and client-secret are *VSCHAR (%x20-7E). Anything else, such as
// a look-alike letter from another script, is malformed rather than merely unknown.
const VSCHAR = /^[\x20-\x7e]*$/

/**
 * Reads the client's credentials from the request without checking them. Throws `invalid_request` when
 * more than one method is used (RFC 6749 §2.3) or a credential is malformed, `invalid_client` when none
 * is.
 */
export function readClientCredentials(
  authorization: string | undefined,
  params: FormParams,
): Presented {
  let presented: Presented | undefined
  for (const strategy of CLIENT_AUTH_STRATEGIES) {
    if (strategy === none) continue
    const found = strategy.read(authorization, params)
    if (found === undefined) continue
    if (presented !== undefined) {
      throw malformed(
        `use one client authentication method, not ${presented.method} and ${found.method} together`,
      )
    }
    presented = found
  }
  presented ??= none.read(authorization, params)
  if (presented === undefined || presented.clientId === '') {
    throw new OAuthError('invalid_client', 'client authentication is required')
  }
  if (
    !VSCHAR.test(presented.clientId) ||
    (presented.credential !== null && !VSCHAR.test(presented.credential))
  ) {
    throw malformed('client credentials must be printable ASCII')
  }
  return presented
}

function failed(): OAuthError {
  return new OAuthError('invalid_client', 'client authentication failed')
}

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

/** What this connection proved before with the same credentials, still true of the client record. */
async function recalled(
  request: FastifyRequest,
  params: FormParams,
  ctx: ServerContext,
): Promise<AuthenticatedClient | undefined> {
  for (const strategy of CLIENT_AUTH_STRATEGIES) {
    const memo = strategy.recall?.(request, params)
    if (memo === undefined) continue
    // The throttle still applies: it belongs to the address, whatever this connection proved before.
    checkThrottle(ctx, `a:${request.ip}`, `c:${request.ip}:${memo.clientId}`, ctx.clock())
    const client = await ctx.clients.get(memo.clientId)
    if (
      client !== null &&
      memo.stillValid(client) &&
      acceptedMethods(client).includes(strategy.method)
    ) {
      return { client, method: strategy.method }
    }
    strategy.forget?.(request)
  }
  return undefined
}

/**
 * Authenticates the calling client with the one method its request uses, which must be the one the
 * client registered. Throws `invalid_client` (401) on failure, a 429 when the address or
 * client+address has failed too often (also on a connection that authenticated before), and a 503
 * `temporarily_unavailable` when too many secrets are being hashed already. Does not check what the
 * client may do.
 */
export async function authenticateClient(
  request: FastifyRequest,
  params: FormParams,
  ctx: ServerContext,
): Promise<AuthenticatedClient> {
  const memo = await recalled(request, params, ctx)
  if (memo !== undefined) return memo

  const presented = readClientCredentials(request.headers.authorization, params)
  const strategy = byMethod.get(presented.method)!
  const now = ctx.clock()
  const addressKey = `a:${request.ip}`
  const clientKey = `c:${request.ip}:${presented.clientId}`
  checkThrottle(ctx, addressKey, clientKey, now)
  const countFailure = (): void => {
    ctx.clientAuthFailures.fail(addressKey, now)
    ctx.clientAuthFailures.fail(clientKey, now)
  }
  // Attributed to the client id presented, known or not; each failure is throttled above.
  const audited = (reason: string): OAuthError => {
    ctx.audit.record(
      {
        kind: 'client_auth.failed',
        subject: shortened(presented.clientId),
        details: { method: presented.method, reason, known: found !== null },
      },
      request.ip,
    )
    return failed()
  }
  let found: ClientRecord | null = null
  const forgive = (): void => {
    ctx.clientAuthFailures.forgive(addressKey, now)
    ctx.clientAuthFailures.forgive(clientKey, now)
  }
  const tooLong =
    presented.clientId.length > MAX_CLIENT_ID ||
    (presented.credential !== null && presented.credential.length > strategy.maxCredential)
  if (tooLong) {
    countFailure()
    throw audited('malformed')
  }
  found = await ctx.clients.get(presented.clientId)
  // A client registered for another method is checked as an unknown one: same work, same answer.
  const client = found !== null && acceptedMethods(found).includes(presented.method) ? found : null
  const check = strategy.check(presented, client, ctx, request)
  let reserved = false
  let verdict: Promise<boolean>
  if ('known' in check) {
    verdict = check.known
  } else {
    // New work. Counted as a failure before it runs, in the same tick as the check (time passed
    // during the lookup), so that parallel attempts cannot all pass the throttle: at most the limit
    // of verifications ever runs per window per address. Forgiven on success, and when the
    // credential could not be checked at all.
    checkThrottle(ctx, addressKey, clientKey, now)
    countFailure()
    reserved = true
    verdict = check.run()
  }
  let ok: boolean
  try {
    ok = await verdict
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
  if (!ok || client === null) {
    if (!reserved) countFailure()
    throw audited(
      found !== null && client === null ? 'method not registered' : 'invalid credential',
    )
  }
  if (reserved) forgive()
  strategy.remember?.(request, presented, client)
  return { client, method: presented.method }
}

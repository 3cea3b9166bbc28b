/**
 * `private_key_jwt` (RFC 7523 §2.2 and §3, RFC 7521 §4.2, OpenID Connect Core §9): the client signs a
 * short-lived JWT with its private key and sends it as `client_assertion`, with
 * `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`. The server checks it
 * with the public keys the client registered: inline (`client create --jwks-file`) or published at
 * `--jwks-uri`, fetched with a timeout, a size bound and a cache (one remote set per client).
 *
 * The assertion must be signed with an asymmetric algorithm (never `none`, never HMAC: a public key
 * used as an HMAC secret proves nothing), have `iss` = `sub` = the client id, an `aud` naming the
 * issuer, the token endpoint or the endpoint called, an `exp` at most five minutes ahead, and a `jti`
 * used once across every node (`store.useOnce`, recorded only after the signature holds, so unsigned
 * junk cannot fill the table). Every failure is `invalid_client` (RFC 7521 §4.2.1), its reason logged.
 *
 * Verified with `jose`, not the server's own token verifier: that one requires low-S ES256 signatures,
 * which client libraries need not produce.
 */
import type { FastifyRequest } from 'fastify'
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  generateKeyPair,
  jwtVerify,
  type CryptoKey,
  type JWTVerifyGetKey,
} from 'jose'
import { OAuthError } from '../../errors.js'
import type { ClientRecord } from '../../store/types.js'
import { BoundedCache } from '../../cache/bounded.js'
import type { ServerContext } from '../context.js'
import type { ClientAuthStrategy, Presented } from './strategy.js'
import { malformed } from './strategy.js'

/** RFC 7523 §2.2. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** The algorithms an assertion may be signed with: asymmetric only (RFC 7518 §3.1, RFC 8037 §3.1). */
export const ASSERTION_SIGNING_ALGS: readonly string[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
]

/** An assertion longer than this is refused unread: a JWT of an RSA-4096 signature is under 2 KB. */
export const MAX_ASSERTION = 8192
/** Seconds: the furthest ahead an assertion's `exp` may be (it is meant for one request). */
const MAX_LIFETIME = 300
/** Seconds of clock difference tolerated on `exp`, `nbf` and `iat`. */
const CLOCK_SKEW = 30
/** The longest `jti` recorded; a longer one is refused. */
const MAX_JTI = 255

/** Remote key sets: how long a fetch may take, how large its answer, how long its keys are used. */
const JWKS_TIMEOUT_MS = 5_000
const MAX_JWKS_BYTES = 64 * 1024
/** No refetch sooner than this after a fetch, even for an unknown `kid` (a rotated key). */
const JWKS_COOLDOWN_MS = 5_000
const JWKS_MAX_AGE_MS = 10 * 60_000
const REMOTE_SETS = 1_000

function invalid(description: string): OAuthError {
  return new OAuthError('invalid_client', description)
}

/**
 * The client an assertion names (its `sub`), read without verifying anything: the verification comes
 * later, in `check`, through the throttle. Anything that is not a compact JWS with a string `sub` is
 * refused here.
 */
export function assertionSubject(assertion: string): string {
  if (assertion.length > MAX_ASSERTION) throw invalid('client_assertion is too long')
  let payload: Record<string, unknown>
  try {
    payload = decodeJwt(assertion)
  } catch {
    throw invalid('client_assertion is not a JWT')
  }
  const sub = payload.sub
  if (typeof sub !== 'string' || sub === '') throw invalid('client_assertion has no sub')
  return sub
}

/** A fetch that gives up on a key set larger than `MAX_JWKS_BYTES` (jose reads whatever it is sent). */
async function boundedFetch(url: string, init: RequestInit): Promise<Response> {
  const response = await fetch(url, init)
  const declared = Number(response.headers.get('content-length') ?? '0')
  if (declared > MAX_JWKS_BYTES) {
    await response.body?.cancel()
    throw new Error(`the key set is larger than ${MAX_JWKS_BYTES} bytes`)
  }
  const chunks: Uint8Array[] = []
  let size = 0
  if (response.body !== null) {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength
      if (size > MAX_JWKS_BYTES)
        throw new Error(`the key set is larger than ${MAX_JWKS_BYTES} bytes`)
      chunks.push(chunk)
    }
  }
  return new Response(Buffer.concat(chunks), { status: response.status })
}

interface RemoteSet {
  uri: string
  getKey: JWTVerifyGetKey
}

/** One remote key set per client, built again when the client's URI changes. */
const remoteSets = new BoundedCache<string, RemoteSet>(REMOTE_SETS)

function remoteKeys(clientId: string, uri: string): JWTVerifyGetKey {
  const known = remoteSets.get(clientId)
  if (known !== undefined && known.uri === uri) return known.getKey
  const getKey = createRemoteJWKSet(new URL(uri), {
    timeoutDuration: JWKS_TIMEOUT_MS,
    cooldownDuration: JWKS_COOLDOWN_MS,
    cacheMaxAge: JWKS_MAX_AGE_MS,
    [customFetch]: boundedFetch,
  })
  remoteSets.set(clientId, { uri, getKey })
  return getKey
}

/**
 * Inline key sets, by client record: `createLocalJWKSet` imports keys lazily and keeps them, so one
 * per record saves the import on every request. Weak: a record dropped from the client cache goes too.
 */
const localSets = new WeakMap<ClientRecord, JWTVerifyGetKey>()

/** The keys to verify `client`'s assertions with; `null` when it registered none. */
function keysOf(client: ClientRecord): JWTVerifyGetKey | null {
  if (client.jwks !== null) {
    let local = localSets.get(client)
    if (local === undefined) {
      local = createLocalJWKSet(client.jwks)
      localSets.set(client, local)
    }
    return local
  }
  if (client.jwksUri !== null) return remoteKeys(client.clientId, client.jwksUri)
  return null
}

/**
 * For an unknown client (or one of another method): a key of the assertion's own algorithm, whatever
 * its `kid`, so that the signature check runs and fails as it would for a known client's wrong key.
 */
const dummyKeys = new Map<string, Promise<CryptoKey>>()
const dummyKey: JWTVerifyGetKey = (header) => {
  const alg = header.alg ?? ''
  let key = dummyKeys.get(alg)
  if (key === undefined) {
    key = generateKeyPair(alg).then((pair) => pair.publicKey)
    dummyKeys.set(alg, key)
  }
  return key
}

/** What `aud` may name (RFC 7523 §3 item 3): the issuer, the token endpoint, the endpoint called. */
function acceptedAudiences(ctx: ServerContext, request: FastifyRequest): string[] {
  const issuer = ctx.config.issuer
  const origin = new URL(issuer).origin
  const called = request.routeOptions.url
  // The token endpoint's path (TOKEN_PATH), not imported: that module imports the strategies.
  const audiences = [issuer, issuer.replace(/\/+$/, '') + '/token']
  if (called !== undefined) audiences.push(origin + called)
  return audiences
}

async function verifyAssertion(
  presented: Presented,
  client: ClientRecord | null,
  ctx: ServerContext,
  request: FastifyRequest,
): Promise<boolean> {
  const keys = client === null ? null : keysOf(client)
  const now = ctx.clock()
  let payload
  try {
    ;({ payload } = await jwtVerify(presented.credential ?? '', keys ?? dummyKey, {
      algorithms: [...ASSERTION_SIGNING_ALGS],
      issuer: presented.clientId,
      subject: presented.clientId,
      audience: acceptedAudiences(ctx, request),
      requiredClaims: ['exp', 'jti'],
      clockTolerance: CLOCK_SKEW,
      currentDate: new Date(now * 1000),
    }))
  } catch (err) {
    if (client !== null) {
      ctx.logger.info(
        { clientId: client.clientId, reason: err instanceof Error ? err.message : String(err) },
        'client assertion refused',
      )
    }
    return false
  }
  if (client === null || keys === null) return false
  const refuse = (reason: string): boolean => {
    ctx.logger.info({ clientId: client.clientId, reason }, 'client assertion refused')
    return false
  }
  const exp = payload.exp!
  if (exp > now + MAX_LIFETIME + CLOCK_SKEW) {
    return refuse(`exp is more than ${MAX_LIFETIME} seconds ahead`)
  }
  const jti = payload.jti
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI) return refuse('unusable jti')
  // Kept until the assertion could no longer be accepted anyway, on any node.
  const first = await ctx.store.useOnce(
    'client_assertion',
    `${client.clientId} ${jti}`,
    exp + CLOCK_SKEW,
    now,
  )
  return first ? true : refuse('jti used before')
}

export const privateKeyJwt: ClientAuthStrategy = {
  method: 'private_key_jwt',
  proves: true,
  maxCredential: MAX_ASSERTION,
  read(_authorization, params) {
    const type = params.client_assertion_type
    const assertion = params.client_assertion
    if (type === undefined && assertion === undefined) return undefined
    // RFC 6749 §5.2: a required parameter missing.
    if (assertion === undefined || assertion === '') {
      throw malformed('client_assertion is required with client_assertion_type')
    }
    if (type === undefined)
      throw malformed('client_assertion_type is required with client_assertion')
    // RFC 7521 §4.2.1: an assertion that is invalid for any reason is invalid_client.
    if (type !== CLIENT_ASSERTION_TYPE) {
      throw invalid(`unsupported client_assertion_type: use ${CLIENT_ASSERTION_TYPE}`)
    }
    const clientId = assertionSubject(assertion)
    // RFC 7521 §4.2: a client_id sent too must name the same client.
    if (params.client_id !== undefined && params.client_id !== clientId) {
      throw invalid('client_id does not match the client assertion')
    }
    return { method: 'private_key_jwt', clientId, credential: assertion }
  },
  check(presented, client, ctx, request) {
    return { run: () => verifyAssertion(presented, client, ctx, request) }
  },
}

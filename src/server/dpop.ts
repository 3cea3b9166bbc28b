/**
 * DPoP at the authorization server (RFC 9449): reading the `DPoP` header, checking a proof with the
 * verifier package's one implementation (`@latchkey/verifier/dpop`, as the resource servers do),
 * refusing its `jti` the second time on any node (`store.useOnce`), and the server's nonces.
 *
 * - A proof is checked for the request it came with (`htm`, `htu` built from the issuer, never from
 *   the Host header), its age (`iat` at most 60 s old, 5 s ahead) and, with an access token, its `ath`;
 *   its `jti` is then recorded until the proof could no longer pass the age check.
 * - Errors (RFC 9449 §5, §7.1): `invalid_dpop_proof` for a proof that is missing where one is
 *   required, malformed, for another request, stale or replayed; `use_dpop_nonce` with a fresh
 *   `DPoP-Nonce` header when nonces are on and the proof carries none or an old one (§8).
 * - Nonces (§8) are stateless: the HMAC of a one-minute window under a key derived from the
 *   configuration (as the CSRF key of `./browser.ts`), so every node gives and accepts the same ones;
 *   a proof may carry the current window's nonce or the previous one's (one to two minutes).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449
 */
import { createHmac } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import {
  checkDpopProof,
  DPOP_CLOCK_TOLERANCE_SECONDS,
  DPOP_MAX_AGE_SECONDS,
  DPoPProofError,
  SIGNING_ALGS,
  type DPoPProof,
} from '@latchkey/verifier/dpop'
import type { ServeConfig } from '../config.js'
import { OAuthError } from '../errors.js'
import type { ClientRecord } from '../store/types.js'
import type { ServerContext } from './context.js'
import { deriveServerKey } from './derived_key.js'

/** The `useOnce` namespace of proof ids (`jkt:jti`). */
export const DPOP_REPLAY_KIND = 'dpop'

/** How long one nonce is the current one, seconds; the previous one is accepted too. */
export const DPOP_NONCE_WINDOW_SECONDS = 60

/** The algorithms a proof may be signed with (metadata `dpop_signing_alg_values_supported`). */
export const DPOP_SIGNING_ALGS = SIGNING_ALGS

/** The server's nonces (RFC 9449 §8): the same on every node, no state. */
export class DpopNonces {
  private readonly key: Buffer
  private cachedWindow = -1
  private cached = ''

  constructor(config: Pick<ServeConfig, 'keyEncryptionSecret' | 'issuer'>) {
    this.key = deriveServerKey('latchkey dpop nonce v1', config)
  }

  private ofWindow(window: number): string {
    if (window === this.cachedWindow) return this.cached
    const nonce = createHmac('sha256', this.key).update(String(window)).digest('base64url')
    if (window > this.cachedWindow) {
      this.cachedWindow = window
      this.cached = nonce
    }
    return nonce
  }

  /** The nonce to hand out at `now` (seconds). */
  current(now: number): string {
    return this.ofWindow(Math.floor(now / DPOP_NONCE_WINDOW_SECONDS))
  }

  /** The nonces a proof may carry at `now`: the current window's and the previous one's. */
  accepted(now: number): [string, string] {
    const window = Math.floor(now / DPOP_NONCE_WINDOW_SECONDS)
    return [this.ofWindow(window), this.ofWindow(window - 1)]
  }
}

/**
 * The request's `DPoP` header, `undefined` without one. A repeated one never gets here: every request
 * with two is refused first (`./headers.ts`, RFC 9449 §4.3 point 1: `invalid_dpop_proof`).
 */
export function proofHeader(request: FastifyRequest): string | undefined {
  const value = request.headers.dpop
  return typeof value === 'string' ? value : undefined
}

/** What a proof must be for. */
export interface ProofExpectation {
  htm: string
  htu: string
  /** The access token sent with it (its `ath`). */
  accessToken?: string
  /** The server nonces it may carry; none asked when absent. */
  nonces?: readonly string[]
  /** The status of a refusal: 400 at the token endpoint, 401 at a protected resource (§7.1). */
  status?: number
}

/** The `nonce` claim of a proof that passed its checks (so its payload is JSON). */
function nonceOf(proof: string): unknown {
  const payload = proof.slice(proof.indexOf('.') + 1, proof.lastIndexOf('.'))
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { nonce?: unknown })
    .nonce
}

/**
 * Checks `proof` against `expect` and records its `jti` for as long as the proof could pass, once
 * across every node sharing the store. Throws `invalid_dpop_proof` (or `use_dpop_nonce`).
 */
export async function acceptProof(
  ctx: Pick<ServerContext, 'store' | 'clock'>,
  proof: string,
  expect: ProofExpectation,
): Promise<DPoPProof> {
  const status = expect.status ?? 400
  const now = ctx.clock()
  let accepted: DPoPProof
  try {
    accepted = checkDpopProof(proof, {
      htm: expect.htm,
      htu: expect.htu,
      accessToken: expect.accessToken,
      nonce: expect.nonces,
      now,
      maxAgeSeconds: DPOP_MAX_AGE_SECONDS,
      clockTolerance: DPOP_CLOCK_TOLERANCE_SECONDS,
    })
  } catch (err) {
    if (!(err instanceof DPoPProofError)) throw err
    if (err.reason === 'nonce') {
      throw new OAuthError(
        'use_dpop_nonce',
        'the DPoP proof must carry the nonce the server gave',
        {
          status,
        },
      )
    }
    throw new OAuthError('invalid_dpop_proof', err.message, { status, cause: err })
  }
  const until = Math.ceil(accepted.iat) + DPOP_MAX_AGE_SECONDS + DPOP_CLOCK_TOLERANCE_SECONDS
  const first = await ctx.store.useOnce(
    DPOP_REPLAY_KIND,
    `${accepted.jkt}:${accepted.jti}`,
    until,
    now,
  )
  if (!first)
    throw new OAuthError('invalid_dpop_proof', 'the DPoP proof was already used', { status })
  return accepted
}

/**
 * The DPoP proof of a token request (RFC 9449 §5), checked: `null` without one (a bearer request),
 * unless the client must use DPoP (`--require-dpop`, RFC 9449 §10.2 `dpop_bound_access_tokens`).
 * With nonces on, a proof without the current or previous nonce is refused with `use_dpop_nonce` and
 * a fresh `DPoP-Nonce`; an accepted proof with the previous one gets the current one in the answer.
 */
export async function tokenRequestProof(
  request: FastifyRequest,
  reply: FastifyReply,
  client: ClientRecord,
  htu: string,
  ctx: ServerContext,
): Promise<DPoPProof | null> {
  const proof = proofHeader(request)
  if (proof === undefined) {
    if (client.requireDpop) {
      throw new OAuthError('invalid_dpop_proof', 'this client must send a DPoP proof')
    }
    return null
  }
  if (!ctx.config.dpopNonce) return acceptProof(ctx, proof, { htm: 'POST', htu })
  const now = ctx.clock()
  const nonces = ctx.dpopNonces.accepted(now)
  try {
    const accepted = await acceptProof(ctx, proof, { htm: 'POST', htu, nonces })
    if (nonceOf(proof) !== nonces[0]) reply.header('dpop-nonce', nonces[0])
    return accepted
  } catch (err) {
    if (err instanceof OAuthError && err.code === 'use_dpop_nonce') {
      reply.header('dpop-nonce', nonces[0])
    }
    throw err
  }
}

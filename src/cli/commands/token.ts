/**
 * `latchkey token inspect TOKEN`: decodes a token and checks it, saying why it is not valid. Against
 * the keys and revocations in the database (`--db`), or, given `--issuer` and no `--db`, against a
 * running server as a resource server would, through the verifier SDK: discovery, JWKS, introspection
 * for opaque tokens, and the revocation feed when client credentials are given.
 */
import { revocationRefs } from '../../tokens/access_token.js'
import { decodeJWT, JWTInvalid, verifyAccessToken } from '../../tokens/jwt.js'
import { KeyRing } from '../../tokens/key_ring.js'
import { hashOpaqueToken, looksOpaque } from '../../tokens/opaque.js'
import { createVerifier, VerifierError } from '../../verifier/index.js'
import { printJSON, UsageError } from '../output.js'
import { withStore } from '../store.js'

export interface InspectOptions {
  db?: string
  issuer?: string
  audience?: string
  clientId?: string
  clientSecret?: string
}

export async function inspectToken(token: string, o: InspectOptions): Promise<void> {
  if (o.issuer !== undefined && o.db === undefined) return inspectRemote(token, o.issuer, o)
  const now = Math.floor(Date.now() / 1000)
  if (token.includes('.')) {
    let decoded
    try {
      decoded = decodeJWT(token)
    } catch (err) {
      if (err instanceof JWTInvalid) throw new UsageError(`not a valid JWT: ${err.message}`)
      throw err
    }
    await withStore(o.db, async (store) => {
      const keys = await KeyRing.load(store, {
        clock: () => now,
        keyEncryptionSecret: process.env.LATCHKEY_KEY_ENCRYPTION_SECRET || undefined,
      })
      const issuer =
        o.issuer ?? (typeof decoded.payload.iss === 'string' ? decoded.payload.iss : '')
      let valid = true
      let reason: string | null = null
      try {
        const { claims, kid } = await verifyAccessToken(
          token,
          (k) => keys.verificationKey(k, now),
          { issuer, now, leeway: 0 },
        )
        if (await store.isRevoked(revocationRefs(claims, kid), claims.iat, now)) {
          valid = false
          reason = 'revoked'
        }
      } catch (err) {
        if (!(err instanceof JWTInvalid)) throw err
        valid = false
        reason = err.message
      }
      printJSON({ format: 'jwt', valid, reason, header: decoded.header, payload: decoded.payload })
    })
    return
  }
  if (!looksOpaque(token))
    throw new UsageError('not a token issued by latchkey (neither a JWT nor opaque)')
  await withStore(o.db, async (store) => {
    const record = await store.findToken(hashOpaqueToken(token), now)
    printJSON({
      format: 'opaque',
      valid: record !== null,
      reason: record ? null : 'unknown, expired or revoked',
      ...(record && {
        client_id: record.clientId,
        sub: record.sub,
        scope: record.scope,
        aud: record.aud,
        sid: record.sid,
        iat: record.issuedAt,
        exp: record.expiresAt,
      }),
    })
  })
}

/** What a verified or refused token looks like when decoded, without trusting it. */
function peek(token: string): { header?: unknown; payload?: Record<string, unknown> } {
  if (!token.includes('.')) return {}
  try {
    const decoded = decodeJWT(token)
    return { header: decoded.header, payload: decoded.payload }
  } catch {
    return {}
  }
}

/** A verifier's reason, with what went wrong underneath when the server could not be asked. */
function explain(err: VerifierError): string {
  const cause =
    err.cause instanceof Error && !err.description.includes(err.cause.message)
      ? `: ${err.cause.message}`
      : ''
  return err.description + cause
}

/**
 * Checks `token` against the server at `issuer` exactly as a resource server with the verifier SDK
 * would. Prints `valid` and, when not, `error` (the RFC 6750 code) and `reason`. Fails (exit 1) only
 * when the server cannot be asked.
 */
async function inspectRemote(token: string, issuer: string, o: InspectOptions): Promise<void> {
  const { header, payload } = peek(token)
  const aud = payload?.aud
  const audience =
    o.audience ??
    (typeof aud === 'string'
      ? aud
      : Array.isArray(aud) && typeof aud[0] === 'string'
        ? aud[0]
        : issuer)
  const clientId = o.clientId ?? (process.env.LATCHKEY_CLIENT_ID || undefined)
  const clientSecret = o.clientSecret ?? (process.env.LATCHKEY_CLIENT_SECRET || undefined)
  if ((clientId === undefined) !== (clientSecret === undefined)) {
    throw new UsageError('--client-id and --client-secret go together')
  }
  let verifier
  try {
    verifier = createVerifier({
      issuer,
      audience,
      clientId,
      clientSecret,
      // One JSON read of the feed is enough for a single check.
      revocationFeed: clientId ? 'poll' : false,
      pollInterval: 60,
      maxStaleness: 30,
    })
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err))
  }
  const format = token.includes('.') ? 'jwt' : 'opaque'
  try {
    // Not `ready()`: the first check fails at once when the server cannot be reached at all.
    const claims = await verifier.verify(token)
    printJSON({
      format,
      valid: true,
      reason: null,
      revocations_checked: clientId !== undefined,
      ...(header !== undefined && { header }),
      payload: claims,
    })
  } catch (err) {
    if (!(err instanceof VerifierError)) throw err
    if (err.code === 'temporarily_unavailable') {
      throw new UsageError(`cannot check the token against ${issuer}: ${explain(err)}`)
    }
    printJSON({
      format,
      valid: false,
      error: err.code,
      reason: err.description,
      revocations_checked: clientId !== undefined,
      ...(header !== undefined && { header }),
      ...(payload !== undefined && { payload }),
    })
  } finally {
    verifier.close()
  }
}

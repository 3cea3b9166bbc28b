/**
 * `latchkey token inspect TOKEN`: decodes a token and checks it against the keys and revocations in
 * the database, saying in one word why it is not valid.
 */
import { revocationRefs } from '../../tokens/access_token.js'
import { decodeJWT, JWTInvalid, verifyAccessToken } from '../../tokens/jwt.js'
import { KeyRing } from '../../tokens/key_ring.js'
import { hashOpaqueToken, looksOpaque } from '../../tokens/opaque.js'
import { printJSON, UsageError } from '../output.js'
import { withStore } from '../store.js'

export async function inspectToken(
  token: string,
  o: { db?: string; issuer?: string },
): Promise<void> {
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

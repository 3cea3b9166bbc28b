/**
 * `latchkey token inspect TOKEN`: decodes a token and checks it, saying why it is not valid. Against
 * the keys and revocations in the database (`--db`), or, given `--issuer` and no `--db`, against a
 * running server as a resource server would, through the verifier SDK: discovery, JWKS, introspection
 * for opaque tokens, and the revocation feed when client credentials are given.
 *
 * Both ways print one shape, `Inspection`, and exit 0 only when the token is valid: 2 when it is not
 * (or its validity could not be established, as a JWT's revocation without client credentials), with
 * the JSON on stdout and its reason on stderr; 1, with one line on stderr and nothing on stdout, when
 * no check could be made (no database, server unreachable, bad options).
 */
import type { Store } from '../../store/types.js'
import { revocationRefs } from '../../tokens/access_token.js'
import { decodeJWT, JWTInvalid, verifyAccessToken } from '../../tokens/jwt.js'
import { KeyRing } from '../../tokens/key_ring.js'
import { hashOpaqueToken, looksOpaque } from '../../tokens/opaque.js'
import { createVerifier, VerifierError } from '@latchkey/verifier'
import { printJSON, UsageError } from '../output.js'
import { withStore } from '../store.js'

export interface InspectOptions {
  db?: string
  issuer?: string
  audience?: string
  clientId?: string
  clientSecret?: string
}

/** What `token inspect` prints, whichever way it checked. */
export interface Inspection {
  /** True only when every check passed, revocation included. */
  valid: boolean
  /** By shape: a JWT has dots, an opaque token none. */
  format: 'jwt' | 'opaque'
  /** Why it is not valid; absent when it is. */
  reason?: string
  /** Whether revocations were consulted: always with `--db`, with `--issuer` only given credentials. */
  revocations_checked: boolean
  /** A JWT's header, decoded (unverified when not valid). */
  header?: unknown
  /**
   * A JWT's payload, decoded (unverified when not valid); an opaque token's claims when valid
   * (`client_id`, `sub`, `scope`, `aud`, `iat`, `exp`, …).
   */
  claims?: Record<string, unknown>
}

/** Clock skew allowed on `iat`/`nbf`, as the server's default; none on `exp`, as the server. */
const LEEWAY = 5

/**
 * Checks `token` and prints the `Inspection`. Returns whether it is valid; when it is not, says why on
 * stderr and sets the exit code to 2.
 */
export async function inspectToken(token: string, o: InspectOptions): Promise<boolean> {
  const result =
    o.issuer !== undefined && o.db === undefined
      ? await inspectRemote(token, o.issuer, o)
      : await withStore(o.db, (store) => inspectLocal(token, o, store))
  printJSON(result)
  if (!result.valid) {
    process.stderr.write(`latchkey: token not valid: ${result.reason ?? 'unknown'}\n`)
    process.exitCode = 2
  }
  return result.valid
}

/** Against the database: signature by one of its published keys, claims, revocations. */
async function inspectLocal(token: string, o: InspectOptions, store: Store): Promise<Inspection> {
  const now = Math.floor(Date.now() / 1000)
  if (!token.includes('.')) {
    const base = { format: 'opaque', revocations_checked: true } as const
    if (!looksOpaque(token)) {
      return { valid: false, ...base, reason: 'not a token issued by latchkey' }
    }
    const record = await store.findToken(hashOpaqueToken(token), now)
    if (!record) return { valid: false, ...base, reason: 'unknown, expired or revoked' }
    const claims = {
      client_id: record.clientId,
      sub: record.sub,
      ...(record.scope && { scope: record.scope }),
      aud: record.aud,
      ...(record.sid && { sid: record.sid }),
      iat: record.issuedAt,
      exp: record.expiresAt,
    }
    if (o.audience !== undefined && record.aud !== o.audience) {
      return { valid: false, ...base, reason: 'aud does not match', claims }
    }
    return { valid: true, ...base, claims }
  }
  const base = { format: 'jwt', revocations_checked: true } as const
  let decoded
  try {
    decoded = decodeJWT(token)
  } catch (err) {
    if (!(err instanceof JWTInvalid)) throw err
    return { valid: false, ...base, reason: `not a valid JWT: ${err.message}` }
  }
  const seen = { header: decoded.header, claims: decoded.payload }
  const keys = await KeyRing.load(store, {
    clock: () => now,
    keyEncryptionSecret: process.env.LATCHKEY_KEY_ENCRYPTION_SECRET || undefined,
  })
  // The database does not know the issuer's URL: `iss` is checked when --issuer names it. A token
  // signed by one of its keys was minted by a server on this database, whatever its `iss`.
  const { iss } = decoded.payload
  try {
    const { claims, kid } = await verifyAccessToken(token, (k) => keys.verificationKey(k, now), {
      issuer: o.issuer ?? (typeof iss === 'string' ? iss : ''),
      audience: o.audience,
      now,
      leeway: LEEWAY,
      expLeeway: 0,
    })
    if (await store.isRevoked(revocationRefs(claims, kid), claims.iat, now)) {
      return { valid: false, ...base, reason: 'token has been revoked', ...seen }
    }
  } catch (err) {
    if (!(err instanceof JWTInvalid)) throw err
    return { valid: false, ...base, reason: err.message, ...seen }
  }
  return { valid: true, ...base, ...seen }
}

/** What a token looks like when decoded, without trusting it. */
function peek(token: string): { header?: unknown; claims?: Record<string, unknown> } {
  if (!token.includes('.')) return {}
  try {
    const decoded = decodeJWT(token)
    return { header: decoded.header, claims: decoded.payload }
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
 * would. Without client credentials a JWT's revocation cannot be checked, so it is not reported
 * valid. Throws (exit 1) only when the server cannot be asked.
 */
async function inspectRemote(
  token: string,
  issuer: string,
  o: InspectOptions,
): Promise<Inspection> {
  const seen = peek(token)
  const aud = seen.claims?.aud
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
  const base = {
    format: token.includes('.') ? 'jwt' : 'opaque',
    revocations_checked: clientId !== undefined,
  } as const
  try {
    // Not `ready()`: the first check fails at once when the server cannot be reached at all.
    const claims = await verifier.verify(token)
    if (!base.revocations_checked) {
      return {
        valid: false,
        ...base,
        reason:
          'signature and claims are good, but revocations were not checked: give a ' +
          '--resource-server client with --client-id and --client-secret',
        ...seen,
        claims,
      }
    }
    return { valid: true, ...base, ...seen, claims }
  } catch (err) {
    if (!(err instanceof VerifierError)) throw err
    if (err.code === 'temporarily_unavailable') {
      throw new UsageError(`cannot check the token against ${issuer}: ${explain(err)}`)
    }
    return { valid: false, ...base, reason: err.description, ...seen }
  } finally {
    verifier.close()
  }
}

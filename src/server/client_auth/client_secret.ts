/**
 * `client_secret_basic` (RFC 6749 §2.3.1: HTTP Basic, each part form-urlencoded before base64) and
 * `client_secret_post` (the same secret as `client_secret` in the body). Secrets are checked against
 * their stored hash in constant time (`src/tokens/secrets.ts`), and an unknown client costs the same
 * hash as a known one.
 */
import type { Socket } from 'node:net'
import type { FastifyRequest } from 'fastify'
import type { ClientRecord } from '../../store/types.js'
import type { ServerContext } from '../context.js'
import type { ClientAuthStrategy, CredentialCheck, Presented } from './strategy.js'
import { malformed } from './strategy.js'

/** Long enough for any generated or chosen secret; a longer one is refused before hashing. */
const MAX_SECRET = 512
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

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

/** Both methods check the same secret hash. */
function checkSecret(
  presented: Presented,
  client: ClientRecord | null,
  ctx: ServerContext,
): CredentialCheck {
  const secret = presented.credential ?? ''
  const encoded = client ? client.secretHash : null
  // A secret verified before, or being checked right now, costs no hash.
  const known = ctx.secrets.withoutHash(presented.clientId, secret, encoded)
  if (known !== undefined) return { known: known.then((ok) => ok && client !== null) }
  return {
    run: async () =>
      (await ctx.secrets.verify(presented.clientId, secret, encoded)) && client !== null,
  }
}

/**
 * Basic credentials verified on a connection: the exact header, the client, and the stored hash the
 * secret was checked against. A keep-alive client repeats the header on every request; it is parsed and
 * its secret checked once per connection (docs/PERFORMANCE.md, "Client authentication once per
 * connection"). The client is still looked up on every request (through the client cache), so a changed
 * secret or a deleted client ends the memo within the cache's TTL. Only `client_secret_basic` is
 * remembered: never a body secret, never a public client.
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

export const clientSecretBasic: ClientAuthStrategy = {
  method: 'client_secret_basic',
  proves: true,
  maxCredential: MAX_SECRET,
  read(authorization, params) {
    if (authorization === undefined) return undefined
    const basic = parseBasic(authorization)
    if (params.client_id !== undefined && params.client_id !== basic.clientId) {
      throw malformed('client_id does not match the Basic credentials')
    }
    return { method: 'client_secret_basic', clientId: basic.clientId, credential: basic.secret }
  },
  check: checkSecret,
  recall(request: FastifyRequest, params) {
    const authorization = request.headers.authorization
    if (authorization === undefined) return undefined
    const memo = verifiedOnSocket.get(request.raw.socket)
    if (
      memo === undefined ||
      memo.header !== authorization ||
      params.client_id !== undefined ||
      params.client_secret !== undefined
    ) {
      return undefined
    }
    return {
      clientId: memo.clientId,
      stillValid: (client) => client.secretHash === memo.secretHash,
    }
  },
  remember(request, _presented, client) {
    const header = request.headers.authorization
    if (header === undefined || client.secretHash === null) return
    verifiedOnSocket.set(request.raw.socket, {
      header,
      clientId: client.clientId,
      secretHash: client.secretHash,
    })
  },
  forget(request) {
    verifiedOnSocket.delete(request.raw.socket)
  },
}

export const clientSecretPost: ClientAuthStrategy = {
  method: 'client_secret_post',
  proves: true,
  maxCredential: MAX_SECRET,
  read(_authorization, params) {
    const secret = params.client_secret
    if (secret === undefined) return undefined
    // Without client_id it names no client: `authenticateClient` answers that authentication is
    // required (after refusing a second method, if any).
    return { method: 'client_secret_post', clientId: params.client_id ?? '', credential: secret }
  },
  check: checkSecret,
}

/**
 * The reference the benchmark compares Latchkey with: `oidc-provider` (panva/node-oidc-provider, the
 * certified OAuth 2 / OpenID Connect server for Node), configured for the same work as Latchkey's
 * cases and run as its own process by `run.ts`:
 *   - `client_credentials` with `client_secret_basic`;
 *   - JWT access tokens through resource indicators (RFC 8707): resource `urn:bench:jwt` has
 *     `accessTokenFormat: 'jwt'`, signed ES256 with a P-256 key generated here at start-up (jose);
 *   - opaque access tokens: resource `urn:bench:opaque`, `accessTokenFormat: 'opaque'`;
 *   - introspection (RFC 7662) by a third, confidential client;
 *   - its default storage: the built-in in-memory adapter (an LRU of 1,000 entries per process).
 * Each client may ask for its own resource only; access tokens live 300 s, as Latchkey's default.
 * oidc-provider refuses to introspect its own JWT access tokens (`unsupported_token_type`: "Structured
 * JWT Tokens cannot be introspected"), so it has no JWT-introspection figure.
 *
 * Usage: `node dist/bench/reference_server.js PORT`; stops on SIGTERM or SIGINT.
 */
import { createServer } from 'node:http'
import { exportJWK, generateKeyPair } from 'jose'
import Provider, { errors } from 'oidc-provider'
import { JWT_CLIENT, OPAQUE_CLIENT, REFERENCE, RESOURCE_SERVER, SECRET } from './clients.js'

const port = Number(process.argv[2])
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: reference_server.js PORT\n')
  process.exit(2)
}
const issuer = `http://127.0.0.1:${port}`

/** Which resource (and so which token format) each client may ask for. */
const RESOURCE_OF: Record<string, string> = {
  [JWT_CLIENT]: REFERENCE.jwtResource,
  [OPAQUE_CLIENT]: REFERENCE.opaqueResource,
}

const { privateKey } = await generateKeyPair('ES256', { extractable: true })
const jwk = { ...(await exportJWK(privateKey)), kid: 'bench-es256', alg: 'ES256', use: 'sig' }

const client = (clientId: string): Record<string, unknown> => ({
  client_id: clientId,
  client_secret: SECRET,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'read',
})

const provider = new Provider(issuer, {
  clients: [client(JWT_CLIENT), client(OPAQUE_CLIENT), client(RESOURCE_SERVER)],
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  jwks: { keys: [jwk] },
  scopes: ['read'],
  cookies: { keys: ['bench-cookie-key-0123456789abcdef'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx) => RESOURCE_OF[ctx.oidc.client?.clientId ?? ''] ?? undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource, requester) => {
        if (RESOURCE_OF[requester.clientId] !== resource) throw new errors.InvalidTarget()
        const common = { scope: 'read', audience: resource, accessTokenTTL: 300 }
        return resource === REFERENCE.jwtResource
          ? { ...common, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }
          : { ...common, accessTokenFormat: 'opaque' }
      },
    },
  },
})
provider.on('server_error', (_ctx, error) => {
  process.stderr.write(`server_error: ${error.message}\n`)
})

const server = createServer(provider.callback())
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`oidc-provider listening on ${issuer}\n`)
})

const stop = (): void => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)

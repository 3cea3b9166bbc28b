/**
 * The admin HTTP API under `/admin/v1` (under the issuer's path): the operations of `src/admin/*.ts`,
 * the same ones the CLI runs, over JSON. Described by an OpenAPI 3.1 document at
 * `/admin/v1/openapi.json` (`admin_openapi.ts`), the only route here that needs no token.
 *
 * Every other route needs a live access token of this server (RFC 6750 §2.1 `Authorization: Bearer`,
 * JWT or opaque, revocation-aware: `resolveAccessToken`, as userinfo and introspection check one)
 * carrying the scope `latchkey:admin`. No token or one that is not live → 401 with a Bearer challenge
 * (RFC 6750 §3.1, `invalid_token` when one was sent); a live token without the scope → 403
 * `insufficient_scope`. Bodies are JSON, checked with zod: anything else → 400 `invalid_request`.
 * An unknown id → 404, a name or id already taken → 409, both in RFC 6749 §5.2 form. Secrets are
 * never returned, except the one generated when a client is created or its secret rotated.
 *
 * No CORS: the console that will use this API is served from the same origin.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import {
  createClient,
  deleteClient,
  listClients,
  rotateClientSecret,
  showClient,
  updateClient,
} from '../../admin/clients.js'
import { listAudit } from '../../admin/audit.js'
import { listKeys, retireKey, rotateKey } from '../../admin/keys.js'
import { listSessions, revokeSessions } from '../../admin/sessions.js'
import { createUser, deleteUser, listUsers, unlockUser, updateUser } from '../../admin/users.js'
import type { AuditContext } from '../../audit/record.js'
import { ConfigError, ConflictError, OAuthError, UsageError } from '../../errors.js'
import { resolveAccessToken } from '../../tokens/access_token.js'
import type { ServerContext } from '../context.js'
import { handleError, sendOAuthError } from '../errors.js'
import { BEARER_AUTHORIZATION } from '../headers.js'
import { ADMIN_SCOPE, scopeList } from '../scope.js'
import { ADMIN_OPENAPI_PATH, adminOpenApi } from './admin_openapi.js'

export const ADMIN_PREFIX = '/admin/v1'

const REALM = 'latchkey'

/** A refusal of the token, sent with a Bearer challenge (RFC 6750 §3). */
class TokenRefusal extends OAuthError {
  constructor(
    code: 'invalid_request' | 'invalid_token' | 'insufficient_scope',
    description: string,
    status: number,
    readonly bare = false,
  ) {
    super(code, description, { status })
  }
}

/**
 * Checks the request's bearer token; throws `TokenRefusal`. Returns who is acting, for the audit log:
 * `api:user:<user id>` for a user's token, `api:client:<client id>` for a service client's.
 */
async function authorize(request: FastifyRequest, ctx: ServerContext): Promise<string> {
  const header = request.headers.authorization
  if (header === undefined || header === '') {
    // RFC 6750 §3.1: no token at all, no error code in the challenge.
    throw new TokenRefusal('invalid_request', 'an access token is required', 401, true)
  }
  const m = BEARER_AUTHORIZATION.exec(header)
  if (!m) throw new TokenRefusal('invalid_token', 'send the access token as a Bearer token', 401)
  const live = await resolveAccessToken(ctx.tokens, m[1]!)
  if (!live) throw new TokenRefusal('invalid_token', 'the access token is not active', 401)
  // A DPoP-bound token is sent with its proof (RFC 9449 §7); this API takes bearer tokens only.
  if (live.claims.cnf?.jkt !== undefined) {
    throw new TokenRefusal(
      'invalid_token',
      'the admin API takes bearer tokens, not DPoP-bound',
      401,
    )
  }
  // The scope, a client still registered with it (a client's scopes may have been narrowed) and,
  // for a user's token (`sid`), a user still holding the admin role.
  const client = await ctx.store.getClient(live.claims.client_id)
  const user = live.claims.sid ? await ctx.store.getUser(live.claims.sub) : null
  if (
    !scopeList(live.claims.scope ?? '').includes(ADMIN_SCOPE) ||
    !client?.scopes.includes(ADMIN_SCOPE) ||
    (live.claims.sid && !user?.admin)
  ) {
    throw new TokenRefusal(
      'insufficient_scope',
      `the access token was not issued with scope ${ADMIN_SCOPE}`,
      403,
    )
  }
  return live.claims.sid ? `api:user:${live.claims.sub}` : `api:client:${live.claims.client_id}`
}

function refuseToken(reply: FastifyReply, err: TokenRefusal): FastifyReply {
  let challenge = `Bearer realm="${REALM}"`
  if (!err.bare) challenge += `, error="${err.code}", error_description="${err.description}"`
  if (err.code === 'insufficient_scope') challenge += `, scope="${ADMIN_SCOPE}"`
  reply.header('www-authenticate', challenge)
  return sendOAuthError(reply, err)
}

/**
 * An operation's refusal on the wire: 404 for an unknown id, 409 when taken (or a key already
 * retired, or the one signing now), else 400.
 */
function fromUsage(err: UsageError | ConfigError): OAuthError {
  const status = /^no (user|client|session|signing key)\b/.test(err.message)
    ? 404
    : /already (exists|retired)|signing now/.test(err.message)
      ? 409
      : 400
  return new OAuthError('invalid_request', err.message, { status })
}

/** The body checked against `schema`, or 400 `invalid_request` naming the first problem. */
function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {})
  if (!result.success) {
    const issue = result.error.issues[0]!
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''
    throw new OAuthError('invalid_request', `${where}${issue.message}`)
  }
  return result.data
}

const text = z.string()
const list = z.array(z.string())

/** `POST /clients`: the options of `latchkey client create`, in their wire spelling. */
const ClientCreate = z
  .object({
    client_id: text,
    client_secret: text.optional(),
    grant_types: list,
    scope: text.optional(),
    redirect_uris: list.optional(),
    audiences: list.optional(),
    exchange_audiences: list.optional(),
    token_endpoint_auth_method: text.optional(),
    jwks_uri: text.optional(),
    require_par: z.boolean().optional(),
    dpop_bound_access_tokens: z.boolean().optional(),
    allowed_origins: list.optional(),
    client_name: text.optional(),
    logo_uri: text.optional(),
    third_party: z.boolean().optional(),
    post_logout_redirect_uris: list.optional(),
    backchannel_logout_uri: text.optional(),
    id_token_signed_response_alg: text.optional(),
    access_token_format: text.optional(),
    access_token_ttl: z.number().int().optional(),
    resource_server: z.boolean().optional(),
  })
  .strict()

const nullableText = text.nullable().optional()

/**
 * `PATCH /clients/{id}`: the fields of a registration that may change, each replacing the client's
 * (`null` clears an optional text). The id, the secret and the authentication method stay.
 */
const ClientUpdate = z
  .object({
    grant_types: list.optional(),
    scope: text.optional(),
    redirect_uris: list.optional(),
    audiences: list.optional(),
    exchange_audiences: list.optional(),
    jwks_uri: text.optional(),
    require_par: z.boolean().optional(),
    dpop_bound_access_tokens: z.boolean().optional(),
    allowed_origins: list.optional(),
    client_name: nullableText,
    logo_uri: nullableText,
    third_party: z.boolean().optional(),
    post_logout_redirect_uris: list.optional(),
    backchannel_logout_uri: nullableText,
    id_token_signed_response_alg: text.optional(),
    access_token_format: text.optional(),
    access_token_ttl: z.number().int().optional(),
    resource_server: z.boolean().optional(),
  })
  .strict()

/**
 * The fields a client body shares between creation and update, by the names of the operations
 * (`null`, which only an update takes, clears).
 */
function clientFields<B extends z.infer<typeof ClientUpdate>>(b: B) {
  return {
    redirectUri: b.redirect_uris,
    audience: b.audiences,
    exchangeAudience: b.exchange_audiences,
    jwksUri: b.jwks_uri,
    requirePar: b.require_par,
    requireDpop: b.dpop_bound_access_tokens,
    allowedOrigin: b.allowed_origins,
    displayName: b.client_name as B['client_name'],
    logoUri: b.logo_uri as B['logo_uri'],
    thirdParty: b.third_party,
    postLogoutRedirectUri: b.post_logout_redirect_uris,
    backchannelLogoutUri: b.backchannel_logout_uri as B['backchannel_logout_uri'],
    idTokenSignedResponseAlg: b.id_token_signed_response_alg,
    accessTokenFormat: b.access_token_format,
    accessTokenTtl: b.access_token_ttl,
    resourceServer: b.resource_server,
  }
}

const profile = {
  email: nullableText,
  email_verified: z.boolean().optional(),
  name: nullableText,
  given_name: nullableText,
  family_name: nullableText,
}
const admin = { admin: z.boolean().optional() }
const UserCreate = z.object({ username: text, password: text, ...profile, ...admin }).strict()
const UserUpdate = z.object({ ...profile, ...admin }).strict()

/** The role and profile fields of a user body, by the names of the admin operations. */
function userChanges(b: z.infer<typeof UserUpdate>) {
  return {
    admin: b.admin,
    email: b.email,
    emailVerified: b.email_verified,
    name: b.name,
    givenName: b.given_name,
    familyName: b.family_name,
  }
}
const KeyRotate = z
  .object({ alg: text.optional(), activate_in: z.number().int().optional() })
  .strict()
const RevocationQuery = z
  .object({
    after: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict()
const SessionQuery = z.object({ user: text.optional(), client: text.optional() }).strict()
const AuditQuery = z
  .object({
    since: text.optional(),
    until: text.optional(),
    actor: text.optional(),
    kind: text.optional(),
    limit: text.optional(),
    before: text.optional(),
  })
  .strict()

type Params = Record<string, string>
/** `by`: who acts and from where, for the audit log of every change. */
type Handler = (request: FastifyRequest, reply: FastifyReply, by: AuditContext) => Promise<unknown>

/** Every admin route: method, path (OpenAPI spelling, `{name}` parameters) and its handler. */
export function adminRoutes(
  ctx: ServerContext,
): { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; path: string; handler: Handler }[] {
  const store = ctx.store
  const param = (r: FastifyRequest, name: string): string => (r.params as Params)[name]!
  const created = (reply: FastifyReply, value: unknown): unknown => {
    void reply.code(201)
    return value
  }
  return [
    { method: 'GET', path: '/clients', handler: () => listClients(store) },
    {
      method: 'POST',
      path: '/clients',
      handler: async (r, reply, by) => {
        const b = parseBody(ClientCreate, r.body)
        const client = await createClient(
          store,
          {
            id: b.client_id,
            secret: b.client_secret,
            grant: b.grant_types,
            scope: b.scope,
            authMethod: b.token_endpoint_auth_method,
            ...clientFields(b),
          },
          by,
        )
        return created(reply, client)
      },
    },
    { method: 'GET', path: '/clients/{id}', handler: (r) => showClient(store, param(r, 'id')) },
    {
      method: 'PATCH',
      path: '/clients/{id}',
      handler: (r, _reply, by) => {
        const b = parseBody(ClientUpdate, r.body)
        return updateClient(
          store,
          {
            id: param(r, 'id'),
            grant: b.grant_types,
            scope: b.scope,
            ...clientFields(b),
          },
          by,
        )
      },
    },
    {
      method: 'DELETE',
      path: '/clients/{id}',
      handler: (r, _reply, by) => deleteClient(store, param(r, 'id'), by),
    },
    {
      method: 'POST',
      path: '/clients/{id}/rotate-secret',
      handler: (r, _reply, by) => rotateClientSecret(store, param(r, 'id'), by),
    },
    { method: 'GET', path: '/users', handler: () => listUsers(store) },
    {
      method: 'POST',
      path: '/users',
      handler: async (r, reply, by) => {
        const b = parseBody(UserCreate, r.body)
        const user = await createUser(
          store,
          { username: b.username, password: b.password, ...userChanges(b) },
          by,
        )
        return created(reply, user)
      },
    },
    {
      method: 'PATCH',
      path: '/users/{username}',
      handler: (r, _reply, by) => {
        const b = parseBody(UserUpdate, r.body)
        return updateUser(store, { username: param(r, 'username'), ...userChanges(b) }, by)
      },
    },
    {
      method: 'DELETE',
      path: '/users/{username}',
      handler: (r, _reply, by) => deleteUser(store, param(r, 'username'), by),
    },
    {
      method: 'POST',
      path: '/users/{username}/unlock',
      handler: (r, _reply, by) => unlockUser(store, param(r, 'username'), by),
    },
    {
      method: 'GET',
      path: '/sessions',
      handler: (r) => listSessions(store, parseBody(SessionQuery, r.query)),
    },
    {
      method: 'DELETE',
      path: '/sessions/{id}',
      handler: (r, _reply, by) => revokeSessions(store, { id: param(r, 'id') }, by),
    },
    { method: 'GET', path: '/keys', handler: () => listKeys(store) },
    {
      method: 'POST',
      path: '/keys/rotate',
      handler: async (r, reply, by) => {
        const b = parseBody(KeyRotate, r.body)
        const key = await rotateKey(
          store,
          {
            alg: b.alg,
            activateIn: b.activate_in,
            keyEncryptionSecret: ctx.config.keyEncryptionSecret,
            idTokenSeconds: ctx.config.idTokenSeconds,
          },
          by,
        )
        return created(reply, key)
      },
    },
    {
      method: 'POST',
      path: '/keys/{kid}/retire',
      handler: (r, _reply, by) => retireKey(store, param(r, 'kid'), ctx.config.idTokenSeconds, by),
    },
    {
      method: 'GET',
      path: '/revocations',
      handler: async (r) => {
        const q = parseBody(RevocationQuery, r.query)
        const events = await store.listRevocations(q.after ?? 0, q.limit ?? 100)
        return events.map((e) => ({
          seq: e.seq,
          kind: e.kind,
          value: e.value,
          client_id: e.clientId,
          created_at: new Date(e.createdAt * 1000).toISOString(),
          expires_at: new Date(e.expiresAt * 1000).toISOString(),
        }))
      },
    },
    {
      method: 'GET',
      path: '/audit',
      handler: (r) => listAudit(store, parseBody(AuditQuery, r.query)),
    },
  ]
}

/** `/clients/{id}` → `/clients/:id`, fastify's spelling. */
const fastifyPath = (path: string): string => path.replace(/\{(\w+)\}/g, ':$1')

export function registerAdminEndpoints(app: FastifyInstance, ctx: ServerContext): void {
  void app.register(
    (scope, _options, done) => {
      // JSON bodies here only; the rest of the server takes forms.
      scope.removeContentTypeParser('application/x-www-form-urlencoded')
      scope.setErrorHandler((error, request, reply) =>
        (error as { code?: string }).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? sendOAuthError(
              reply,
              new OAuthError('invalid_request', 'request body must be application/json'),
            )
          : handleError(error, request, reply),
      )
      scope.addContentTypeParser(
        'application/json',
        { parseAs: 'string' },
        (_request, body, parsed) => {
          try {
            parsed(null, body === '' ? undefined : (JSON.parse(body as string) as unknown))
          } catch {
            parsed(new OAuthError('invalid_request', 'the body is not JSON'), undefined)
          }
        },
      )
      scope.get(ADMIN_OPENAPI_PATH, (_request, reply) =>
        reply.header('cache-control', 'no-cache').send(adminOpenApi(ctx.config.issuer)),
      )
      for (const route of adminRoutes(ctx)) {
        scope.route({
          method: route.method,
          url: fastifyPath(route.path),
          handler: async (request, reply) => {
            try {
              const actor = await authorize(request, ctx)
              const answer = await route.handler(request, reply, {
                actor,
                address: request.ip,
                logger: ctx.logger,
                failures: ctx.metrics.auditWriteFailures,
              })
              // A client changed here is read afresh by this node at once (others: within a second).
              const changed = (request.params as Params | undefined)?.id
              if (changed !== undefined && route.path.startsWith('/clients/')) {
                ctx.clients.forget(changed)
              }
              return reply
                .header('cache-control', 'no-store')
                .header('x-content-type-options', 'nosniff')
                .send(answer)
            } catch (err) {
              if (err instanceof TokenRefusal) return refuseToken(reply, err)
              if (err instanceof UsageError || err instanceof ConfigError)
                return sendOAuthError(reply, fromUsage(err))
              if (err instanceof ConflictError) {
                return sendOAuthError(
                  reply,
                  new OAuthError('invalid_request', err.message, { status: 409 }),
                )
              }
              if (err instanceof OAuthError && err.status < 500) return sendOAuthError(reply, err)
              throw err
            }
          },
        })
      }
      done()
    },
    { prefix: ADMIN_PREFIX },
  )
}

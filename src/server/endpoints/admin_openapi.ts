/**
 * The OpenAPI 3.1 document of the admin API (`admin.ts`), served at `/admin/v1/openapi.json`. Every
 * route the server registers under `/admin/v1` is described here and nothing else (a test checks
 * both ways). Every operation needs a bearer token with the scope `latchkey:admin`.
 */
import { issuerPath } from '../issuer.js'

export const ADMIN_OPENAPI_PATH = '/openapi.json'

type Json = Record<string, unknown>

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` })
const arrayOf = (name: string): Json => ({ type: 'array', items: ref(name) })
const json = (schema: Json): Json => ({ content: { 'application/json': { schema } } })
const ok = (description: string, schema: Json): Json => ({ description, ...json(schema) })
const pathParam = (name: string, description: string): Json => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
})
const queryParam = (name: string, description: string, type = 'string'): Json => ({
  name,
  in: 'query',
  required: false,
  description,
  schema: { type },
})

/** The refusals every operation may answer with. */
const REFUSALS: Json = {
  '400': { $ref: '#/components/responses/BadRequest' },
  '401': { $ref: '#/components/responses/Unauthorized' },
  '403': { $ref: '#/components/responses/Forbidden' },
}

function op(
  operationId: string,
  summary: string,
  responses: Json,
  extra: Json = {},
  notFound = false,
): Json {
  const all: Json = { ...responses, ...REFUSALS }
  if (notFound) all['404'] = { $ref: '#/components/responses/NotFound' }
  return { operationId, summary, ...extra, responses: all }
}

const body = (schema: Json): Json => ({ requestBody: { required: true, ...json(schema) } })
const conflict: Json = { '409': { $ref: '#/components/responses/Conflict' } }

const str = { type: 'string' }
const strList = { type: 'array', items: str }
const nullableStr = { type: ['string', 'null'] }
const bool = { type: 'boolean' }
const time = { type: 'string', format: 'date-time' }
const nullableTime = { type: ['string', 'null'], format: 'date-time' }

/** The fields of a client body: `POST /clients` takes them all, `PATCH /clients/{id}` all but three. */
const CLIENT_FIELDS: Json = {
  client_id: str,
  client_secret: str,
  grant_types: strList,
  scope: str,
  redirect_uris: strList,
  audiences: strList,
  exchange_audiences: strList,
  token_endpoint_auth_method: str,
  jwks_uri: str,
  require_par: bool,
  dpop_bound_access_tokens: bool,
  allowed_origins: strList,
  client_name: str,
  logo_uri: str,
  third_party: bool,
  post_logout_redirect_uris: strList,
  backchannel_logout_uri: str,
  id_token_signed_response_alg: str,
  access_token_format: { enum: ['jwt', 'opaque'] },
  access_token_ttl: { type: 'integer' },
  resource_server: bool,
}
const {
  client_id: _id,
  client_secret: _secret,
  token_endpoint_auth_method: _method,
  ...UPDATABLE
} = CLIENT_FIELDS

const SCHEMAS: Json = {
  Error: {
    type: 'object',
    required: ['error', 'error_description'],
    properties: { error: str, error_description: str },
  },
  Client: {
    type: 'object',
    required: ['client_id', 'token_endpoint_auth_method', 'grant_types', 'scope', 'created_at'],
    properties: {
      client_id: str,
      token_endpoint_auth_method: str,
      grant_types: strList,
      scope: str,
      redirect_uris: strList,
      audience: nullableStr,
      audiences: strList,
      exchange_audiences: strList,
      require_par: bool,
      dpop_bound_access_tokens: bool,
      allowed_origins: strList,
      client_name: nullableStr,
      logo_uri: nullableStr,
      third_party: bool,
      post_logout_redirect_uris: strList,
      backchannel_logout_uri: nullableStr,
      id_token_signed_response_alg: str,
      jwks_uri: nullableStr,
      jwks: { type: 'object' },
      access_token_format: { enum: ['jwt', 'opaque'] },
      access_token_ttl: { type: 'integer' },
      resource_server: bool,
      created_at: time,
      client_secret: {
        ...str,
        description: 'only when created with a generated secret, or rotated: once',
      },
    },
  },
  ClientCreate: {
    type: 'object',
    required: ['client_id', 'grant_types'],
    additionalProperties: false,
    properties: CLIENT_FIELDS,
  },
  ClientUpdate: {
    type: 'object',
    additionalProperties: false,
    description:
      "Each field given replaces the client's (a list as a whole); null clears an optional text. The id, the secret and the authentication method cannot change.",
    properties: {
      ...UPDATABLE,
      client_name: nullableStr,
      logo_uri: nullableStr,
      backchannel_logout_uri: nullableStr,
    },
  },
  User: {
    type: 'object',
    required: ['id', 'username', 'created_at'],
    properties: {
      id: str,
      username: str,
      email: nullableStr,
      email_verified: bool,
      name: nullableStr,
      given_name: nullableStr,
      family_name: nullableStr,
      admin: bool,
      created_at: time,
      unlocked_at: time,
    },
  },
  UserCreate: {
    type: 'object',
    required: ['username', 'password'],
    additionalProperties: false,
    properties: {
      username: str,
      password: str,
      email: nullableStr,
      email_verified: bool,
      name: nullableStr,
      given_name: nullableStr,
      family_name: nullableStr,
      admin: bool,
    },
  },
  UserUpdate: {
    type: 'object',
    additionalProperties: false,
    properties: {
      email: nullableStr,
      email_verified: bool,
      name: nullableStr,
      given_name: nullableStr,
      family_name: nullableStr,
      admin: bool,
    },
  },
  Session: {
    type: 'object',
    required: ['id', 'user_id', 'client_id', 'scope', 'created_at', 'expires_at'],
    properties: {
      id: str,
      user_id: str,
      username: nullableStr,
      client_id: str,
      scope: str,
      created_at: time,
      expires_at: time,
      absolute_expires_at: time,
    },
  },
  Key: {
    type: 'object',
    required: ['kid', 'alg', 'state'],
    properties: {
      kid: str,
      alg: str,
      state: str,
      created_at: nullableTime,
      activates_at: nullableTime,
      superseded_at: nullableTime,
      published_until: nullableTime,
      retired_at: nullableTime,
      encrypted: bool,
    },
  },
  KeyRotate: {
    type: 'object',
    additionalProperties: false,
    properties: {
      alg: { enum: ['ES256', 'RS256', 'PS256', 'EdDSA'] },
      activate_in: { type: 'integer', minimum: 0 },
    },
  },
  Revocation: {
    type: 'object',
    required: ['seq', 'kind', 'value', 'created_at', 'expires_at'],
    properties: {
      seq: { type: 'integer' },
      kind: { enum: ['jti', 'token', 'sid', 'sub', 'client', 'kid'] },
      value: str,
      client_id: nullableStr,
      created_at: time,
      expires_at: time,
    },
  },
  AuditEvent: {
    type: 'object',
    required: ['id', 'at', 'kind', 'actor', 'subject', 'address', 'details'],
    properties: {
      id: { type: 'integer' },
      at: time,
      kind: str,
      actor: str,
      subject: nullableStr,
      address: nullableStr,
      details: { type: 'object' },
    },
  },
  Deleted: { type: 'object', properties: { deleted: { const: true } } },
  Revoked: { type: 'object', required: ['revoked'], properties: { revoked: strList } },
}

const errorResponse = (description: string): Json => ok(description, ref('Error'))

const PATHS: Json = {
  '/clients': {
    get: op('listClients', 'Every client', { '200': ok('The clients', arrayOf('Client')) }),
    post: op(
      'createClient',
      'Register a client; a generated secret is returned once',
      { '201': ok('The client', ref('Client')), ...conflict },
      body(ref('ClientCreate')),
    ),
  },
  '/clients/{id}': {
    parameters: [pathParam('id', 'client_id')],
    get: op('showClient', 'One client', { '200': ok('The client', ref('Client')) }, {}, true),
    patch: op(
      'updateClient',
      "Change a client's registration",
      { '200': ok('The client', ref('Client')) },
      body(ref('ClientUpdate')),
      true,
    ),
    delete: op(
      'deleteClient',
      'Delete a client and revoke its tokens',
      { '200': ok('Deleted', ref('Deleted')) },
      {},
      true,
    ),
  },
  '/clients/{id}/rotate-secret': {
    parameters: [pathParam('id', 'client_id')],
    post: op(
      'rotateClientSecret',
      'Replace the client secret with a new random one, returned once',
      { '200': ok('The client, with client_secret', ref('Client')) },
      {},
      true,
    ),
  },
  '/users': {
    get: op('listUsers', 'Every user', { '200': ok('The users', arrayOf('User')) }),
    post: op(
      'createUser',
      'Add a user',
      { '201': ok('The user', ref('User')), ...conflict },
      body(ref('UserCreate')),
    ),
  },
  '/users/{username}': {
    parameters: [pathParam('username', 'the user name')],
    patch: op(
      'updateUser',
      "Change a user's profile",
      { '200': ok('The user', ref('User')) },
      body(ref('UserUpdate')),
      true,
    ),
    delete: op(
      'deleteUser',
      'Delete a user and end their sessions and tokens',
      { '200': ok('Deleted', ref('Deleted')) },
      {},
      true,
    ),
  },
  '/users/{username}/unlock': {
    parameters: [pathParam('username', 'the user name')],
    post: op(
      'unlockUser',
      "Forgive a user's failed logins",
      { '200': ok('The user', ref('User')) },
      {},
      true,
    ),
  },
  '/sessions': {
    get: op(
      'listSessions',
      'Live sessions of a user or of a client (exactly one of the two)',
      { '200': ok('The sessions', arrayOf('Session')) },
      {
        parameters: [queryParam('user', 'a user name'), queryParam('client', 'a client_id')],
      },
      true,
    ),
  },
  '/sessions/{id}': {
    parameters: [pathParam('id', 'session id')],
    delete: op(
      'revokeSession',
      'End a session, its tokens included',
      { '200': ok('The sessions ended', ref('Revoked')) },
      {},
      true,
    ),
  },
  '/keys': {
    get: op('listKeys', 'Every signing key and its state', {
      '200': ok('The keys', arrayOf('Key')),
    }),
  },
  '/keys/rotate': {
    post: op(
      'rotateKey',
      "Add a signing key to its alg's lineage",
      { '201': ok('The new key', ref('Key')) },
      { requestBody: { required: false, ...json(ref('KeyRotate')) } },
    ),
  },
  '/keys/{kid}/retire': {
    parameters: [pathParam('kid', 'key id')],
    post: op(
      'retireKey',
      'Withdraw a key now: unpublished, its tokens refused',
      { '200': ok('The key', ref('Key')), ...conflict },
      {},
      true,
    ),
  },
  '/revocations': {
    get: op(
      'listRevocations',
      'Revocation events after a sequence number, oldest first',
      { '200': ok('The events', arrayOf('Revocation')) },
      {
        parameters: [
          queryParam('after', 'sequence number to start after (default 0)', 'integer'),
          queryParam('limit', 'at most this many, 1-1000 (default 100)', 'integer'),
        ],
      },
    ),
  },
  '/audit': {
    get: op(
      'listAudit',
      'Audit events (admin actions and security events), newest first',
      { '200': ok('The events', arrayOf('AuditEvent')) },
      {
        parameters: [
          queryParam('since', 'from this time: ISO 8601 or seconds since the epoch', 'string'),
          queryParam('until', 'up to this time: ISO 8601 or seconds since the epoch', 'string'),
          queryParam(
            'actor',
            'only this actor (cli:NAME, api:user:ID, api:client:ID, -)',
            'string',
          ),
          queryParam('kind', 'only this kind, such as client.created', 'string'),
          queryParam('limit', 'at most this many, 1-1000 (default 100)', 'integer'),
          queryParam('before', 'only events with a smaller id (paging)', 'integer'),
        ],
      },
    ),
  },
}

/** The document, with the server URL under `issuer`. */
export function adminOpenApi(issuer: string): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Latchkey admin API',
      version: '1',
      description:
        'Operate a Latchkey server: clients, users, sessions, signing keys, revocations, the audit log. Every operation needs an access token of this server with the scope latchkey:admin.',
    },
    servers: [{ url: new URL(issuer).origin + issuerPath(issuer) + '/admin/v1' }],
    security: [{ bearer: ['latchkey:admin'] }],
    paths: PATHS,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'scope latchkey:admin' },
      },
      schemas: SCHEMAS,
      responses: {
        BadRequest: errorResponse('Malformed request (invalid_request)'),
        Unauthorized: errorResponse('No token, or not an active one'),
        Forbidden: errorResponse('The token lacks the scope latchkey:admin (insufficient_scope)'),
        NotFound: errorResponse('No such client, user, session or key'),
        Conflict: errorResponse('Already exists, or already retired'),
      },
    },
  }
}

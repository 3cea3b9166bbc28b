/**
 * Registering the applications and APIs that use the server: the operations behind `latchkey client
 * create|list|show|update|rotate-secret|delete`, the admin API and the programmatic API. Each takes an open store and returns what the
 * CLI prints; mistakes throw `UsageError`.
 */
import { recordAudit, SERVER_ACTOR, type AuditContext } from '../audit/record.js'
import type { JSONWebKeySet } from 'jose'
import { OAuthError, UsageError } from '../errors.js'
import { findGrant, GRANT_TYPES } from '../server/grants/index.js'
import {
  CLIENT_AUTH_METHODS,
  SIGNING_ALGS,
  type AccessTokenFormat,
  type ClientAuthMethod,
  type ClientRecord,
  type GrantType,
  type SigningAlg,
  type Store,
} from '../store/types.js'
import { DEFAULT_ACCESS_TOKEN_TTL, ID_TOKEN_DEFAULT_ALG } from '../tokens/key_management.js'
import { generateSecret, hashSecret } from '../tokens/secrets.js'
import { parseScope } from '../server/scope.js'
import { checkJWKSUri, readJWKSFile } from './client_keys.js'
import { checkLogoutUris } from './client_logout.js'
import { checkAllowedOrigin, checkDisplayName, checkLogoUri } from './client_presentation.js'

export const MIN_SECRET_LENGTH = 20
export const MAX_ACCESS_TOKEN_TTL = 86_400
/** Client ids are printable ASCII without spaces or separators that would need escaping anywhere. */
const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/

/** A client to register, as `latchkey client create` takes it (each field is the flag of its name). */
export interface CreateClientOptions {
  /** `client_id`: 1-128 characters of A-Z a-z 0-9 . _ ~ -, starting with a letter or digit. */
  id: string
  /** At least 20 printable ASCII characters; default: 256 random bits, returned once. */
  secret?: string
  /** `client_credentials`, `authorization_code`, `refresh_token`: at least one. */
  grant: string[]
  /** Space-separated scopes the client may be granted. */
  scope?: string
  /** Exact redirect URIs; at least one with `authorization_code`. */
  redirectUri?: string[]
  /**
   * The audiences (RFC 8707 resources) its access tokens may be addressed to; the first is the
   * default `aud` (default: the issuer). One string or several.
   */
  audience?: string | string[]
  /** `client_secret_basic` (default with a secret), `client_secret_post`, `private_key_jwt`, `none`. */
  authMethod?: string
  /** With `private_key_jwt`: a file holding the client's public keys as a JWK Set. */
  jwksFile?: string
  /** With `private_key_jwt`: where the client publishes its JWK Set (https; http only on loopback). */
  jwksUri?: string
  /** Audiences it may exchange a token toward (RFC 8693 token exchange). */
  exchangeAudience?: string[]
  /** Its authorization requests must be pushed first (RFC 9126). */
  requirePar?: boolean
  /** Its token requests must carry a DPoP proof: every access token bound to a key (RFC 9449). */
  requireDpop?: boolean
  /** Browser origins (`https://app.example.com`) allowed cross-origin calls (CORS). */
  allowedOrigin?: string[]
  /** The name the login page shows (RFC 7591 `client_name`); 1-100 printable characters. */
  displayName?: string
  /** An image the login page shows (RFC 7591 `logo_uri`): https (http only for loopback). */
  logoUri?: string
  /**
   * A third-party application: users approve the scopes it asks for on a consent page (default:
   * first-party, no consent page).
   */
  thirdParty?: boolean
  /** Exact URIs the browser may return to after logout (OpenID Connect RP-Initiated Logout 1.0). */
  postLogoutRedirectUri?: string[]
  /** Where its logout tokens are POSTed (OpenID Connect Back-Channel Logout 1.0): https, or loopback http. */
  backchannelLogoutUri?: string
  /**
   * The algorithm of its ID tokens (OpenID Connect Registration §2): RS256 (default), or ES256, PS256
   * or EdDSA when the store has a key of that alg.
   */
  idTokenSignedResponseAlg?: string
  /** `jwt` (default) or `opaque`. */
  accessTokenFormat?: string
  /** Access-token lifetime, seconds (default 300). */
  accessTokenTtl?: string | number
  /** An API: may introspect any token and read the revocation feed. */
  resourceServer?: boolean
  /** A public client (the same as `authMethod: 'none'`): no secret, `authorization_code` with PKCE only. */
  public?: boolean
  /** With `private_key_jwt`: its keys, already read (an update that keeps a client's inline keys). */
  jwks?: JSONWebKeySet
}

/** A client as printed and returned: wire spelling (RFC 7591 names where there are any). */
export interface ClientJSON {
  client_id: string
  token_endpoint_auth_method: ClientAuthMethod
  grant_types: GrantType[]
  scope: string
  redirect_uris: string[]
  /** The first of `audiences`, or `null` (the issuer): what it was before there could be several. */
  audience: string | null
  audiences: string[]
  exchange_audiences: string[]
  require_par: boolean
  /** RFC 9449 §10.2. */
  dpop_bound_access_tokens: boolean
  allowed_origins: string[]
  client_name: string | null
  logo_uri: string | null
  third_party: boolean
  post_logout_redirect_uris: string[]
  backchannel_logout_uri: string | null
  id_token_signed_response_alg: SigningAlg
  jwks_uri: string | null
  /** Only when its keys were given inline. */
  jwks?: JSONWebKeySet
  access_token_format: AccessTokenFormat
  access_token_ttl: number
  resource_server: boolean
  created_at: string
  /** Only from `createClient`, when the secret was generated: shown once, only its hash is kept. */
  client_secret?: string
}

/** The client as printed: wire spelling (RFC 7591 names where there are any). */
export function clientJSON(c: ClientRecord): ClientJSON {
  const json: ClientJSON = {
    client_id: c.clientId,
    // Unchosen (`null`): either secret method, reported as RFC 7591's default.
    token_endpoint_auth_method: c.authMethod ?? 'client_secret_basic',
    grant_types: c.grants,
    scope: c.scopes.join(' '),
    redirect_uris: c.redirectUris,
    audience: c.audiences[0] ?? null,
    audiences: c.audiences,
    exchange_audiences: c.exchangeAudiences,
    require_par: c.requirePar,
    dpop_bound_access_tokens: c.requireDpop,
    allowed_origins: c.allowedOrigins,
    client_name: c.displayName,
    logo_uri: c.logoUri,
    third_party: c.thirdParty,
    post_logout_redirect_uris: c.postLogoutRedirectUris,
    backchannel_logout_uri: c.backchannelLogoutUri,
    id_token_signed_response_alg: c.idTokenSignedResponseAlg,
    jwks_uri: c.jwksUri,
    access_token_format: c.accessTokenFormat,
    access_token_ttl: c.accessTokenTtl,
    resource_server: c.resourceServer,
    created_at: new Date(c.createdAt * 1000).toISOString(),
  }
  if (c.jwks !== null) json.jwks = c.jwks
  return json
}

/**
 * Checks a URI the browser is sent to: a redirect URI, or a post-logout redirect URI (OpenID Connect
 * RP-Initiated Logout 1.0 §3.1, same rules), named in messages by `flag`.
 */
export function checkRedirectUri(uri: string, flag = '--redirect-uri'): string {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw new UsageError(`${flag} ${JSON.stringify(uri)} is not an absolute URL`)
  }
  // RFC 6749 §3.1.2: absolute, no fragment. RFC 8252 §7.3: http only for loopback.
  if (url.hash || uri.includes('#')) throw new UsageError(`${flag} must not have a fragment`)
  if (url.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
    throw new UsageError(`${flag} must be https (http is allowed only for loopback)`)
  }
  if (['javascript:', 'data:', 'file:', 'vbscript:'].includes(url.protocol)) {
    throw new UsageError(`${flag} scheme ${url.protocol} is not allowed`)
  }
  return uri
}

function checkGrants(grants: string[]): GrantType[] {
  if (grants.length === 0) throw new UsageError('at least one --grant is required')
  for (const g of grants) {
    if (findGrant(g) === undefined) {
      throw new UsageError(
        `unknown grant ${JSON.stringify(g)}: use one of ${GRANT_TYPES.join(', ')}`,
      )
    }
  }
  return [...new Set(grants)]
}

function checkScope(scope: string | undefined): string[] {
  if (scope === undefined || scope.trim() === '') return []
  try {
    return parseScope(scope.trim().split(/\s+/).join(' '))
  } catch (err) {
    if (err instanceof OAuthError)
      throw new UsageError(`--scope ${JSON.stringify(scope)} is malformed`)
    throw err
  }
}

/** Non-empty values of a repeatable option, duplicates dropped, first occurrence kept in place. */
function checkList(flag: string, values: string | string[] | undefined): string[] {
  const list = values === undefined ? [] : typeof values === 'string' ? [values] : values
  for (const value of list) {
    if (value.trim() === '') throw new UsageError(`${flag} is empty`)
  }
  return [...new Set(list)]
}

function checkAuthMethod(o: CreateClientOptions): ClientAuthMethod | null {
  if (o.authMethod === undefined) return o.public ? 'none' : null
  if (!(CLIENT_AUTH_METHODS as readonly string[]).includes(o.authMethod)) {
    throw new UsageError(
      `unknown --auth-method ${JSON.stringify(o.authMethod)}: use one of ${CLIENT_AUTH_METHODS.join(', ')}`,
    )
  }
  if (o.public && o.authMethod !== 'none') {
    throw new UsageError('a --public client has --auth-method none')
  }
  return o.authMethod as ClientAuthMethod
}

/** The key set or its URI: exactly one with `private_key_jwt`, neither with any other method. */
async function checkKeys(
  o: CreateClientOptions,
  method: ClientAuthMethod | null,
): Promise<{ jwks: JSONWebKeySet | null; jwksUri: string | null }> {
  if (method !== 'private_key_jwt') {
    if (o.jwksFile !== undefined || o.jwksUri !== undefined) {
      throw new UsageError('--jwks-file and --jwks-uri go only with --auth-method private_key_jwt')
    }
    return { jwks: null, jwksUri: null }
  }
  if (o.jwks !== undefined && o.jwksFile === undefined && o.jwksUri === undefined) {
    return { jwks: o.jwks, jwksUri: null }
  }
  if ((o.jwksFile === undefined) === (o.jwksUri === undefined)) {
    throw new UsageError(
      '--auth-method private_key_jwt needs exactly one of --jwks-file, --jwks-uri',
    )
  }
  if (o.jwksUri !== undefined) return { jwks: null, jwksUri: checkJWKSUri(o.jwksUri) }
  return { jwks: await readJWKSFile(o.jwksFile!), jwksUri: null }
}

function checkIdTokenAlg(value: string | undefined): SigningAlg {
  if (value === undefined) return ID_TOKEN_DEFAULT_ALG
  const alg = SIGNING_ALGS.find((a) => a === value)
  if (alg === undefined) {
    throw new UsageError(`--id-token-signed-response-alg must be one of ${SIGNING_ALGS.join(', ')}`)
  }
  return alg
}

/**
 * Refuses an ID-token alg the server has no key for: RS256 always has one (the server makes it at
 * start), any other needs a key of its alg in the store, not retired (`keys rotate --alg`).
 */
async function checkIdTokenKey(store: Store, alg: SigningAlg): Promise<void> {
  if (alg === ID_TOKEN_DEFAULT_ALG) return
  const keys = await store.listKeys()
  if (!keys.some((k) => k.alg === alg && k.retiredAt === null)) {
    throw new UsageError(
      `--id-token-signed-response-alg ${alg}: the server has no ${alg} key (run "latchkey keys rotate --alg ${alg}" first)`,
    )
  }
}

function checkTtl(value: string | number | undefined): number {
  if (value === undefined) return DEFAULT_ACCESS_TOKEN_TTL
  const ttl = Number(value)
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_ACCESS_TOKEN_TTL) {
    throw new UsageError(
      `--access-token-ttl must be a whole number of seconds from 1 to ${MAX_ACCESS_TOKEN_TTL}`,
    )
  }
  return ttl
}

/**
 * Validates options into a record (without secret hash) and the secret to hash, if any. Reads
 * `jwksFile`; opens no store.
 */
export async function buildClient(
  o: CreateClientOptions,
  now: number,
): Promise<{
  client: Omit<ClientRecord, 'secretHash'>
  secret: string | null
  generated: boolean
}> {
  if (!CLIENT_ID.test(o.id)) {
    throw new UsageError(
      '--id must be 1-128 characters of A-Z a-z 0-9 . _ ~ -, starting with a letter or digit',
    )
  }
  const grants = checkGrants(o.grant)
  const format = (o.accessTokenFormat ?? 'jwt') as AccessTokenFormat
  if (format !== 'jwt' && format !== 'opaque') {
    throw new UsageError('--access-token-format must be jwt or opaque')
  }
  const redirectUris = [...new Set((o.redirectUri ?? []).map((u) => checkRedirectUri(u)))]
  for (const g of grants) {
    if (findGrant(g)!.needsRedirectUri && redirectUris.length === 0) {
      throw new UsageError(`the ${g} grant needs at least one --redirect-uri`)
    }
  }
  const audiences = checkList('--audience', o.audience)
  const exchangeAudiences = checkList('--exchange-audience', o.exchangeAudience)
  if (o.requirePar && !grants.includes('authorization_code')) {
    throw new UsageError('--require-par needs the authorization_code grant')
  }
  if (o.thirdParty && !grants.includes('authorization_code')) {
    throw new UsageError('--third-party needs the authorization_code grant')
  }
  const authMethod = checkAuthMethod(o)
  const keys = await checkKeys(o, authMethod)
  let secret: string | null = null
  let generated = false
  if (authMethod === 'none') {
    if (o.secret !== undefined) throw new UsageError('a public client has no --secret')
    for (const g of grants) {
      if (findGrant(g)!.confidentialOnly) {
        throw new UsageError(`a public client cannot use the ${g} grant`)
      }
    }
  } else if (authMethod === 'private_key_jwt') {
    // It proves itself with its keys: a secret would be a second, weaker way in.
    if (o.secret !== undefined) throw new UsageError('a private_key_jwt client has no --secret')
  } else if (o.secret !== undefined) {
    if (o.secret.length < MIN_SECRET_LENGTH) {
      throw new UsageError(`--secret must be at least ${MIN_SECRET_LENGTH} characters`)
    }
    if (o.secret.length > 512) throw new UsageError('--secret must be at most 512 characters')
    // RFC 6749 Appendix A.2: client-secret = *VSCHAR.
    if (!/^[\x20-\x7e]+$/.test(o.secret)) {
      throw new UsageError('--secret must be printable ASCII characters')
    }
    secret = o.secret
  } else {
    secret = generateSecret()
    generated = true
  }
  return {
    client: {
      clientId: o.id,
      grants,
      scopes: checkScope(o.scope),
      redirectUris,
      authMethod,
      ...keys,
      audiences,
      exchangeAudiences,
      requirePar: o.requirePar === true,
      requireDpop: o.requireDpop === true,
      allowedOrigins: checkList('--allowed-origin', o.allowedOrigin).map(checkAllowedOrigin),
      displayName: checkDisplayName(o.displayName),
      logoUri: checkLogoUri(o.logoUri),
      thirdParty: o.thirdParty === true,
      ...checkLogoutUris(o),
      idTokenSignedResponseAlg: checkIdTokenAlg(o.idTokenSignedResponseAlg),
      accessTokenFormat: format,
      accessTokenTtl: checkTtl(o.accessTokenTtl),
      resourceServer: o.resourceServer === true,
      createdAt: now,
    },
    secret,
    generated,
  }
}

const now = (): number => Math.floor(Date.now() / 1000)

/**
 * Registers a client. Throws `UsageError` for invalid options or an id already taken. The result
 * carries `client_secret` only when the secret was generated.
 */
export async function createClient(
  store: Store,
  o: CreateClientOptions,
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<ClientJSON> {
  const { client, secret, generated } = await buildClient(o, now())
  if (await store.getClient(client.clientId)) {
    throw new UsageError(`a client with id ${client.clientId} already exists`)
  }
  await checkIdTokenKey(store, client.idTokenSignedResponseAlg)
  const secretHash = secret === null ? null : await hashSecret(secret)
  const record: ClientRecord = { ...client, secretHash }
  await store.createClient(record)
  await recordAudit(store, by, {
    kind: 'client.created',
    subject: record.clientId,
    details: { grants: record.grants, scopes: record.scopes, public: secretHash === null },
  })
  const out = clientJSON(record)
  // Shown once: only the hash is kept.
  if (generated && secret !== null) out.client_secret = secret
  return out
}

async function mustGetClient(store: Store, id: string): Promise<ClientRecord> {
  const client = await store.getClient(id)
  if (!client) throw new UsageError(`no client with id ${id}`)
  return client
}

/** Every client. */
export async function listClients(store: Store): Promise<ClientJSON[]> {
  return (await store.listClients()).map(clientJSON)
}

/** One client; throws `UsageError` when there is none with that id. */
export async function showClient(store: Store, id: string): Promise<ClientJSON> {
  return clientJSON(await mustGetClient(store, id))
}

/**
 * Replaces the secret of a confidential client with a new random one (256 bits), returned once: only
 * its hash is kept. The old secret is refused from then on (within the server's client cache TTL, a
 * second). Tokens already issued stay. Throws `UsageError` for an unknown client or one without a
 * secret (public, or `private_key_jwt`).
 */
export async function rotateClientSecret(
  store: Store,
  id: string,
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<ClientJSON & { client_secret: string }> {
  const client = await mustGetClient(store, id)
  if (client.secretHash === null) {
    throw new UsageError(`client ${id} has no secret to rotate (it authenticates without one)`)
  }
  const secret = generateSecret()
  const record: ClientRecord = { ...client, secretHash: await hashSecret(secret) }
  if (!(await store.updateClient(record))) throw new UsageError(`no client with id ${id}`)
  await recordAudit(store, by, { kind: 'client.secret_rotated', subject: id, details: {} })
  return { ...clientJSON(record), client_secret: secret }
}

/**
 * The changes `latchkey client update` and `PATCH /admin/v1/clients/{id}` take: each field given
 * replaces the client's (a list as a whole); `null` clears an optional one. The id, the secret
 * (`rotateClientSecret`) and the authentication method stay: a client that changes how it proves
 * itself is a new client.
 */
export interface UpdateClientOptions {
  id: string
  grant?: string[]
  scope?: string
  redirectUri?: string[]
  audience?: string[]
  exchangeAudience?: string[]
  jwksFile?: string
  jwksUri?: string
  requirePar?: boolean
  requireDpop?: boolean
  allowedOrigin?: string[]
  displayName?: string | null
  logoUri?: string | null
  thirdParty?: boolean
  postLogoutRedirectUri?: string[]
  backchannelLogoutUri?: string | null
  idTokenSignedResponseAlg?: string
  accessTokenFormat?: string
  accessTokenTtl?: string | number
  resourceServer?: boolean
}

/** A registered client as the options that would create it again (its secret aside). */
function optionsOf(c: ClientRecord): CreateClientOptions {
  return {
    id: c.clientId,
    grant: c.grants,
    scope: c.scopes.join(' '),
    redirectUri: c.redirectUris,
    audience: c.audiences,
    exchangeAudience: c.exchangeAudiences,
    authMethod: c.authMethod ?? undefined,
    jwksUri: c.jwksUri ?? undefined,
    jwks: c.jwks ?? undefined,
    requirePar: c.requirePar,
    requireDpop: c.requireDpop,
    allowedOrigin: c.allowedOrigins,
    displayName: c.displayName ?? undefined,
    logoUri: c.logoUri ?? undefined,
    thirdParty: c.thirdParty,
    postLogoutRedirectUri: c.postLogoutRedirectUris,
    backchannelLogoutUri: c.backchannelLogoutUri ?? undefined,
    idTokenSignedResponseAlg: c.idTokenSignedResponseAlg,
    accessTokenFormat: c.accessTokenFormat,
    accessTokenTtl: c.accessTokenTtl,
    resourceServer: c.resourceServer,
  }
}

/** `null` (clear) becomes absent, `undefined` (not given) keeps `current`. */
const replaced = <T>(change: T | null | undefined, current: T | undefined): T | undefined =>
  change === null ? undefined : change === undefined ? current : change

/**
 * Changes a client's registration: the result is checked by the same rules as a new client, so no
 * update can make one that `createClient` would refuse. Tokens already issued keep what they were
 * issued with (a narrowed scope applies from the next token; the admin API checks its own scope on
 * every request). Returns the client as stored; records `client.updated` with the names of the
 * fields that changed (nothing is written when none did). Throws `UsageError`.
 */
export async function updateClient(
  store: Store,
  o: UpdateClientOptions,
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<ClientJSON> {
  const current = await mustGetClient(store, o.id)
  const was = optionsOf(current)
  const keysChanged = o.jwksFile !== undefined || o.jwksUri !== undefined
  const options: CreateClientOptions = {
    ...was,
    grant: o.grant ?? was.grant,
    scope: o.scope ?? was.scope,
    redirectUri: o.redirectUri ?? was.redirectUri,
    audience: o.audience ?? was.audience,
    exchangeAudience: o.exchangeAudience ?? was.exchangeAudience,
    jwksFile: o.jwksFile,
    jwksUri: keysChanged ? o.jwksUri : was.jwksUri,
    jwks: keysChanged ? undefined : was.jwks,
    requirePar: o.requirePar ?? was.requirePar,
    requireDpop: o.requireDpop ?? was.requireDpop,
    allowedOrigin: o.allowedOrigin ?? was.allowedOrigin,
    displayName: replaced(o.displayName, was.displayName),
    logoUri: replaced(o.logoUri, was.logoUri),
    thirdParty: o.thirdParty ?? was.thirdParty,
    postLogoutRedirectUri: o.postLogoutRedirectUri ?? was.postLogoutRedirectUri,
    backchannelLogoutUri: replaced(o.backchannelLogoutUri, was.backchannelLogoutUri),
    idTokenSignedResponseAlg: o.idTokenSignedResponseAlg ?? was.idTokenSignedResponseAlg,
    accessTokenFormat: o.accessTokenFormat ?? was.accessTokenFormat,
    accessTokenTtl: o.accessTokenTtl ?? was.accessTokenTtl,
    resourceServer: o.resourceServer ?? was.resourceServer,
  }
  // Its secret is not an option here: the one `buildClient` would generate is thrown away.
  const { client } = await buildClient(options, current.createdAt)
  const record: ClientRecord = { ...client, secretHash: current.secretHash }
  if (record.idTokenSignedResponseAlg !== current.idTokenSignedResponseAlg) {
    await checkIdTokenKey(store, record.idTokenSignedResponseAlg)
  }
  const before = clientJSON(current) as unknown as Record<string, unknown>
  const after = clientJSON(record) as unknown as Record<string, unknown>
  const changed = Object.keys(after).filter(
    (k) => JSON.stringify(after[k]) !== JSON.stringify(before[k]),
  )
  if (changed.length === 0) return clientJSON(current)
  if (!(await store.updateClient(record))) throw new UsageError(`no client with id ${o.id}`)
  await recordAudit(store, by, {
    kind: 'client.updated',
    subject: o.id,
    details: { fields: changed },
  })
  return clientJSON(record)
}

/**
 * Deletes a client: its opaque tokens go with it, and a `client` revocation covers the JWTs it still
 * holds until the longest of them would have expired. Throws `UsageError` when there is none.
 */
export async function deleteClient(
  store: Store,
  id: string,
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<{ client_id: string; deleted: true }> {
  const client = await mustGetClient(store, id)
  const at = now()
  // One transaction: the client, its opaque tokens and sessions go, and the event is appended.
  await store.deleteClient(client.clientId, {
    kind: 'client',
    value: client.clientId,
    clientId: client.clientId,
    createdAt: at,
    expiresAt: at + client.accessTokenTtl,
  })
  await recordAudit(store, by, { kind: 'client.deleted', subject: client.clientId })
  return { client_id: client.clientId, deleted: true }
}

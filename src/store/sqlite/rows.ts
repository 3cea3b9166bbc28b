/** How each record maps to a row of the SQLite schema (see `./index.ts`) and back. */

import type { JSONWebKeySet, JWK } from 'jose'
import type {
  AccessTokenFormat,
  AuthorizationCodeRecord,
  ClientAuthMethod,
  ClientRecord,
  ConsentRecord,
  GrantType,
  LoginRecord,
  OpaqueTokenRecord,
  RefreshTokenRecord,
  RevocationEvent,
  RevocationInput,
  RevocationKind,
  SessionRecord,
  SigningAlg,
  SigningKeyRecord,
  UserProfile,
  UserRecord,
} from '../types.js'
export {
  USER_COLUMNS,
  LOGIN_COLUMNS,
  CODE_COLUMNS,
  SESSION_COLUMNS,
  REFRESH_COLUMNS,
  userFromRow,
  loginFromRow,
  codeFromRow,
  sessionFromRow,
  refreshFromRow,
} from '../session_rows.js'
export type { UserRow, LoginRow, CodeRow, SessionRow, RefreshRow } from '../session_rows.js'
export { CONSENT_COLUMNS, scopeUnion } from '../consent_rows.js'

/** A row of `consents`, in `CONSENT_COLUMNS` order. */
export interface ConsentRow {
  user_id: string
  client_id: string
  /** JSON array. */
  scope: string
  granted_at: number
  updated_at: number
}

export function consentFromRow(row: ConsentRow): ConsentRecord {
  return {
    userId: row.user_id,
    clientId: row.client_id,
    scope: JSON.parse(row.scope) as string[],
    grantedAt: row.granted_at,
    updatedAt: row.updated_at,
  }
}

export interface ClientRow {
  client_id: string
  secret_hash: string | null
  grants: string
  scopes: string
  redirect_uris: string
  access_token_format: string
  access_token_ttl: number
  resource_server: number
  created_at: number
  auth_method: string | null
  jwks: string | null
  jwks_uri: string | null
  audiences: string
  exchange_audiences: string
  require_par: number
  allowed_origins: string
  display_name: string | null
  logo_uri: string | null
  third_party: number
  post_logout_redirect_uris: string
  backchannel_logout_uri: string | null
  id_token_signed_response_alg: string
  require_dpop: number
}

export interface KeyRow {
  kid: string
  alg: string
  public_jwk: string
  private_key: string
  created_at: number
  activates_at: number
  superseded_at: number | null
  published_until: number | null
  retired_at: number | null
}

export interface TokenRow {
  hash: string
  client_id: string
  sub: string
  scope: string
  aud: string
  jti: string
  sid: string | null
  issued_at: number
  expires_at: number
  jkt: string | null
}

export interface RevocationRow {
  seq: number
  kind: string
  value: string
  client_id: string | null
  created_at: number
  expires_at: number
}

export function clientFromRow(row: ClientRow): ClientRecord {
  return {
    clientId: row.client_id,
    secretHash: row.secret_hash,
    grants: JSON.parse(row.grants) as GrantType[],
    scopes: JSON.parse(row.scopes) as string[],
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    accessTokenFormat: row.access_token_format as AccessTokenFormat,
    accessTokenTtl: row.access_token_ttl,
    resourceServer: row.resource_server === 1,
    createdAt: row.created_at,
    authMethod: row.auth_method as ClientAuthMethod | null,
    jwks: row.jwks === null ? null : (JSON.parse(row.jwks) as JSONWebKeySet),
    jwksUri: row.jwks_uri,
    audiences: JSON.parse(row.audiences) as string[],
    exchangeAudiences: JSON.parse(row.exchange_audiences) as string[],
    requirePar: row.require_par === 1,
    allowedOrigins: JSON.parse(row.allowed_origins) as string[],
    displayName: row.display_name,
    logoUri: row.logo_uri,
    thirdParty: row.third_party === 1,
    postLogoutRedirectUris: JSON.parse(row.post_logout_redirect_uris) as string[],
    backchannelLogoutUri: row.backchannel_logout_uri,
    idTokenSignedResponseAlg: row.id_token_signed_response_alg as SigningAlg,
    requireDpop: row.require_dpop === 1,
  }
}

export function keyFromRow(row: KeyRow): SigningKeyRecord {
  return {
    kid: row.kid,
    alg: row.alg as SigningAlg,
    publicJwk: JSON.parse(row.public_jwk) as JWK,
    privateKey: row.private_key,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
    supersededAt: row.superseded_at,
    publishedUntil: row.published_until,
    retiredAt: row.retired_at,
  }
}

export function tokenFromRow(row: TokenRow): OpaqueTokenRecord {
  return {
    hash: row.hash,
    clientId: row.client_id,
    sub: row.sub,
    scope: row.scope,
    aud: row.aud,
    jti: row.jti,
    sid: row.sid,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
    jkt: row.jkt,
  }
}

export function revocationFromRow(row: RevocationRow): RevocationEvent {
  return {
    seq: row.seq,
    kind: row.kind as RevocationKind,
    value: row.value,
    clientId: row.client_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  }
}

export type Params = (string | number | null)[]

/** Parameters for `INSERT INTO clients (CLIENT_COLUMNS)`, in that order. */
export function clientParams(client: ClientRecord): Params {
  return [
    client.clientId,
    client.secretHash,
    JSON.stringify(client.grants),
    JSON.stringify(client.scopes),
    JSON.stringify(client.redirectUris),
    client.accessTokenFormat,
    client.accessTokenTtl,
    client.resourceServer ? 1 : 0,
    client.createdAt,
    client.authMethod,
    client.jwks === null ? null : JSON.stringify(client.jwks),
    client.jwksUri,
    JSON.stringify(client.audiences),
    JSON.stringify(client.exchangeAudiences),
    client.requirePar ? 1 : 0,
    JSON.stringify(client.allowedOrigins),
    client.displayName,
    client.logoUri,
    client.thirdParty ? 1 : 0,
    JSON.stringify(client.postLogoutRedirectUris),
    client.backchannelLogoutUri,
    client.idTokenSignedResponseAlg,
    client.requireDpop ? 1 : 0,
  ]
}

/** Parameters for `INSERT INTO signing_keys`, in column order. */
export function keyParams(key: SigningKeyRecord): Params {
  return [
    key.kid,
    key.alg,
    JSON.stringify(key.publicJwk),
    key.privateKey,
    key.createdAt,
    key.activatesAt,
    key.supersededAt,
    key.publishedUntil,
    key.retiredAt,
  ]
}

/** Parameters for `INSERT INTO opaque_tokens`, in column order. */
export function tokenParams(token: OpaqueTokenRecord): Params {
  return [
    token.hash,
    token.clientId,
    token.sub,
    token.scope,
    token.aud,
    token.jti,
    token.sid,
    token.issuedAt,
    token.expiresAt,
    token.jkt,
  ]
}

/** Parameters for `INSERT INTO revocations (kind, value, client_id, created_at, expires_at)`. */
export function revocationParams(event: RevocationInput): Params {
  return [event.kind, event.value, event.clientId, event.createdAt, event.expiresAt]
}

/** Parameters for `INSERT INTO users (USER_COLUMNS)`. */
export function userParams(user: UserRecord): Params {
  return [
    user.id,
    user.username,
    user.passwordHash,
    user.createdAt,
    ...profileParams(user),
    user.admin ? 1 : 0,
  ]
}

/** Parameters for `email, email_verified, name, given_name, family_name`, in that order. */
export function profileParams(p: UserProfile): Params {
  return [p.email, p.emailVerified ? 1 : 0, p.name, p.givenName, p.familyName]
}

/** Parameters for `INSERT INTO logins (LOGIN_COLUMNS)`. */
export function loginParams(login: LoginRecord): Params {
  return [login.hash, login.userId, login.createdAt, login.expiresAt]
}

/** Parameters for `INSERT INTO authorization_codes (CODE_COLUMNS)`. */
export function codeParams(code: AuthorizationCodeRecord): Params {
  return [
    code.hash,
    code.clientId,
    code.userId,
    code.redirectUri,
    code.codeChallenge,
    code.scope,
    code.loginHash,
    code.createdAt,
    code.expiresAt,
    code.usedAt,
    code.sessionId,
    code.nonce,
    code.authTime,
    code.claims.join(' '),
    code.dpopJkt,
  ]
}

/** Parameters for `INSERT INTO sessions (SESSION_COLUMNS)`. */
export function sessionParams(session: SessionRecord): Params {
  return [
    session.id,
    session.userId,
    session.clientId,
    session.scope,
    session.loginHash,
    session.createdAt,
    session.expiresAt,
    session.idleExpiresAt,
    session.revokedAt,
    session.authTime,
    session.claims.join(' '),
  ]
}

/** Parameters for `INSERT INTO refresh_tokens (REFRESH_COLUMNS)`. */
export function refreshParams(token: RefreshTokenRecord): Params {
  return [
    token.hash,
    token.sessionId,
    token.clientId,
    token.userId,
    token.scope,
    token.issuedAt,
    token.expiresAt,
    token.usedAt,
    token.successorHash,
    token.successorSealed,
    token.jkt,
  ]
}

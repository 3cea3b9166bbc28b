/**
 * How each record maps to a row of the PostgreSQL schema (see `./index.ts`) and back. The pool reads
 * `bigint` as a number, `text[]` as an array, `jsonb` as an object and `boolean` as a boolean (see
 * `./connection.ts`), so a row needs only renaming.
 */

import type { JSONWebKeySet, JWK } from 'jose'
import type {
  AccessTokenFormat,
  AuthorizationCodeRecord,
  ClientAuthMethod,
  ClientRecord,
  ConsentRecord,
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
import type { Values } from './connection.js'

export { CLIENT_COLUMNS, CLIENT_COLUMN_COUNT, CLIENT_UPDATE_COLUMNS } from '../client_rows.js'
export { CONSENT_COLUMNS, scopeUnion } from '../consent_rows.js'

/** A row of `consents`, in `CONSENT_COLUMNS` order. */
export interface ConsentRow {
  user_id: string
  client_id: string
  scope: string[]
  granted_at: number
  updated_at: number
}

export function consentFromRow(row: ConsentRow): ConsentRecord {
  return {
    userId: row.user_id,
    clientId: row.client_id,
    scope: row.scope,
    grantedAt: row.granted_at,
    updatedAt: row.updated_at,
  }
}
export const KEY_COLUMNS =
  'kid, alg, public_jwk, private_key, created_at, activates_at, superseded_at, published_until, ' +
  'retired_at'
export const TOKEN_COLUMNS =
  'hash, client_id, sub, scope, aud, jti, sid, issued_at, expires_at, jkt'
export const REVOCATION_COLUMNS = 'seq, kind, value, client_id, created_at, expires_at'

/** `$1, $2, …, $n`: the placeholders of an INSERT of `n` columns. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, (_, i) => `$${i + 1}`).join(', ')
}

export interface ClientRow {
  client_id: string
  secret_hash: string | null
  grants: string[]
  scopes: string[]
  redirect_uris: string[]
  access_token_format: string
  access_token_ttl: number
  resource_server: boolean
  created_at: number
  auth_method: string | null
  jwks: JSONWebKeySet | null
  jwks_uri: string | null
  audiences: string[]
  exchange_audiences: string[]
  require_par: boolean
  allowed_origins: string[]
  display_name: string | null
  logo_uri: string | null
  third_party: boolean
  post_logout_redirect_uris: string[]
  backchannel_logout_uri: string | null
  id_token_signed_response_alg: string
  require_dpop: boolean
}

export interface KeyRow {
  kid: string
  alg: string
  public_jwk: JWK
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
    grants: row.grants,
    scopes: row.scopes,
    redirectUris: row.redirect_uris,
    accessTokenFormat: row.access_token_format as AccessTokenFormat,
    accessTokenTtl: row.access_token_ttl,
    resourceServer: row.resource_server,
    createdAt: row.created_at,
    authMethod: row.auth_method as ClientAuthMethod | null,
    jwks: row.jwks,
    jwksUri: row.jwks_uri,
    audiences: row.audiences,
    exchangeAudiences: row.exchange_audiences,
    requirePar: row.require_par,
    allowedOrigins: row.allowed_origins,
    displayName: row.display_name,
    logoUri: row.logo_uri,
    thirdParty: row.third_party,
    postLogoutRedirectUris: row.post_logout_redirect_uris,
    backchannelLogoutUri: row.backchannel_logout_uri,
    idTokenSignedResponseAlg: row.id_token_signed_response_alg as SigningAlg,
    requireDpop: row.require_dpop,
  }
}

/** Values for `INSERT INTO clients (CLIENT_COLUMNS)`. */
export function clientValues(client: ClientRecord): Values {
  return [
    client.clientId,
    client.secretHash,
    // Arrays go as PostgreSQL array literals, which is what `text[]` takes.
    client.grants,
    client.scopes,
    client.redirectUris,
    client.accessTokenFormat,
    client.accessTokenTtl,
    client.resourceServer,
    client.createdAt,
    client.authMethod,
    client.jwks === null ? null : JSON.stringify(client.jwks),
    client.jwksUri,
    client.audiences,
    client.exchangeAudiences,
    client.requirePar,
    client.allowedOrigins,
    client.displayName,
    client.logoUri,
    client.thirdParty,
    client.postLogoutRedirectUris,
    client.backchannelLogoutUri,
    client.idTokenSignedResponseAlg,
    client.requireDpop,
  ]
}

export function keyFromRow(row: KeyRow): SigningKeyRecord {
  return {
    kid: row.kid,
    alg: row.alg as SigningAlg,
    publicJwk: row.public_jwk,
    privateKey: row.private_key,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
    supersededAt: row.superseded_at,
    publishedUntil: row.published_until,
    retiredAt: row.retired_at,
  }
}

/** Values for `INSERT INTO signing_keys (KEY_COLUMNS)`. */
export function keyValues(key: SigningKeyRecord): Values {
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

/** Values for `INSERT INTO opaque_tokens (TOKEN_COLUMNS)`. */
export function tokenValues(token: OpaqueTokenRecord): Values {
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

/** Values for `APPEND_REVOCATION` (kind, value, client_id, created_at, expires_at). */
export function revocationValues(event: RevocationInput): Values {
  return [event.kind, event.value, event.clientId, event.createdAt, event.expiresAt]
}

/** Values for `INSERT INTO users (USER_COLUMNS)`. */
export function userValues(user: UserRecord): Values {
  return [
    user.id,
    user.username,
    user.passwordHash,
    user.createdAt,
    ...profileValues(user),
    user.admin,
  ]
}

/** Values for `email, email_verified, name, given_name, family_name`, in that order. */
export function profileValues(p: UserProfile): Values {
  return [p.email, p.emailVerified, p.name, p.givenName, p.familyName]
}

/** Values for `INSERT INTO logins (LOGIN_COLUMNS)`. */
export function loginValues(login: LoginRecord): Values {
  return [login.hash, login.userId, login.createdAt, login.expiresAt]
}

/** Values for `INSERT INTO authorization_codes (CODE_COLUMNS)`. */
export function codeValues(code: AuthorizationCodeRecord): Values {
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

/** Values for `INSERT INTO sessions (SESSION_COLUMNS)`. */
export function sessionValues(session: SessionRecord): Values {
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

/** Values for `INSERT INTO refresh_tokens (REFRESH_COLUMNS)`. */
export function refreshValues(token: RefreshTokenRecord): Values {
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

/** How each record maps to a row of the SQLite schema (see `./index.ts`) and back. */

import type { JWK } from 'jose'
import type {
  AccessTokenFormat,
  AuthorizationCodeRecord,
  ClientRecord,
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
  UserRecord,
} from '../types.js'

export interface ClientRow {
  client_id: string
  secret_hash: string | null
  grants: string
  scopes: string
  redirect_uris: string
  audience: string | null
  access_token_format: string
  access_token_ttl: number
  resource_server: number
  created_at: number
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
    audience: row.audience,
    accessTokenFormat: row.access_token_format as AccessTokenFormat,
    accessTokenTtl: row.access_token_ttl,
    resourceServer: row.resource_server === 1,
    createdAt: row.created_at,
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

/** Parameters for `INSERT INTO clients`, in column order. */
export function clientParams(client: ClientRecord): Params {
  return [
    client.clientId,
    client.secretHash,
    JSON.stringify(client.grants),
    JSON.stringify(client.scopes),
    JSON.stringify(client.redirectUris),
    client.audience,
    client.accessTokenFormat,
    client.accessTokenTtl,
    client.resourceServer ? 1 : 0,
    client.createdAt,
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
  ]
}

/** Parameters for `INSERT INTO revocations (kind, value, client_id, created_at, expires_at)`. */
export function revocationParams(event: RevocationInput): Params {
  return [event.kind, event.value, event.clientId, event.createdAt, event.expiresAt]
}

export interface UserRow {
  id: string
  username: string
  password_hash: string
  created_at: number
}

export interface LoginRow {
  hash: string
  user_id: string
  created_at: number
  expires_at: number
}

export interface CodeRow {
  hash: string
  client_id: string
  user_id: string
  redirect_uri: string
  code_challenge: string
  scope: string
  login_hash: string | null
  created_at: number
  expires_at: number
  used_at: number | null
  session_id: string | null
}

export interface SessionRow {
  id: string
  user_id: string
  client_id: string
  scope: string
  login_hash: string | null
  created_at: number
  expires_at: number
  idle_expires_at: number
  revoked_at: number | null
}

export interface RefreshRow {
  hash: string
  session_id: string
  client_id: string
  user_id: string
  scope: string
  issued_at: number
  expires_at: number
  used_at: number | null
  successor_hash: string | null
  successor_sealed: string | null
}

export const USER_COLUMNS = 'id, username, password_hash, created_at'
export const LOGIN_COLUMNS = 'hash, user_id, created_at, expires_at'
export const CODE_COLUMNS =
  'hash, client_id, user_id, redirect_uri, code_challenge, scope, login_hash, created_at, ' +
  'expires_at, used_at, session_id'
export const SESSION_COLUMNS =
  'id, user_id, client_id, scope, login_hash, created_at, expires_at, idle_expires_at, revoked_at'
export const REFRESH_COLUMNS =
  'hash, session_id, client_id, user_id, scope, issued_at, expires_at, used_at, successor_hash, ' +
  'successor_sealed'

export function userFromRow(row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    createdAt: row.created_at,
  }
}

export function loginFromRow(row: LoginRow): LoginRecord {
  return {
    hash: row.hash,
    userId: row.user_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  }
}

export function codeFromRow(row: CodeRow): AuthorizationCodeRecord {
  return {
    hash: row.hash,
    clientId: row.client_id,
    userId: row.user_id,
    redirectUri: row.redirect_uri,
    codeChallenge: row.code_challenge,
    scope: row.scope,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    loginHash: row.login_hash,
    usedAt: row.used_at,
    sessionId: row.session_id,
  }
}

export function sessionFromRow(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    clientId: row.client_id,
    scope: row.scope,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    idleExpiresAt: row.idle_expires_at,
    revokedAt: row.revoked_at,
    loginHash: row.login_hash,
  }
}

export function refreshFromRow(row: RefreshRow): RefreshTokenRecord {
  return {
    hash: row.hash,
    sessionId: row.session_id,
    clientId: row.client_id,
    userId: row.user_id,
    scope: row.scope,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    successorHash: row.successor_hash,
    successorSealed: row.successor_sealed,
  }
}

/** Parameters for `INSERT INTO users (USER_COLUMNS)`. */
export function userParams(user: UserRecord): Params {
  return [user.id, user.username, user.passwordHash, user.createdAt]
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
  ]
}

/**
 * How each record maps to a row of the PostgreSQL schema (see `./index.ts`) and back. The pool reads
 * `bigint` as a number, `text[]` as an array, `jsonb` as an object and `boolean` as a boolean (see
 * `./connection.ts`), so a row needs only renaming.
 */

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
import type { Values } from './connection.js'

export const CLIENT_COLUMNS =
  'client_id, secret_hash, grants, scopes, redirect_uris, audience, access_token_format, ' +
  'access_token_ttl, resource_server, created_at'
export const KEY_COLUMNS =
  'kid, alg, public_jwk, private_key, created_at, activates_at, superseded_at, published_until, ' +
  'retired_at'
export const TOKEN_COLUMNS = 'hash, client_id, sub, scope, aud, jti, sid, issued_at, expires_at'
export const REVOCATION_COLUMNS = 'seq, kind, value, client_id, created_at, expires_at'
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
  audience: string | null
  access_token_format: string
  access_token_ttl: number
  resource_server: boolean
  created_at: number
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
}

export interface RevocationRow {
  seq: number
  kind: string
  value: string
  client_id: string | null
  created_at: number
  expires_at: number
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

export function clientFromRow(row: ClientRow): ClientRecord {
  return {
    clientId: row.client_id,
    secretHash: row.secret_hash,
    grants: row.grants as GrantType[],
    scopes: row.scopes,
    redirectUris: row.redirect_uris,
    audience: row.audience,
    accessTokenFormat: row.access_token_format as AccessTokenFormat,
    accessTokenTtl: row.access_token_ttl,
    resourceServer: row.resource_server,
    createdAt: row.created_at,
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
    client.audience,
    client.accessTokenFormat,
    client.accessTokenTtl,
    client.resourceServer,
    client.createdAt,
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

export function userFromRow(row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    createdAt: row.created_at,
  }
}

/** Values for `INSERT INTO users (USER_COLUMNS)`. */
export function userValues(user: UserRecord): Values {
  return [user.id, user.username, user.passwordHash, user.createdAt]
}

export function loginFromRow(row: LoginRow): LoginRecord {
  return {
    hash: row.hash,
    userId: row.user_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  }
}

/** Values for `INSERT INTO logins (LOGIN_COLUMNS)`. */
export function loginValues(login: LoginRecord): Values {
  return [login.hash, login.userId, login.createdAt, login.expiresAt]
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
  ]
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
  ]
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
  ]
}

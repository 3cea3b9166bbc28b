/**
 * The rows of the session tables (users, logins, codes, sessions, refresh tokens), with their column
 * lists and mappers to records. Both engines store them with the same columns and types, so the SQLite
 * and PostgreSQL engines share this mapping; each keeps its own parameter order for writes.
 */

import type {
  AuthorizationCodeRecord,
  LoginRecord,
  RefreshTokenRecord,
  SessionRecord,
  UserRecord,
} from './types.js'

export interface UserRow {
  id: string
  username: string
  password_hash: string
  created_at: number
  email: string | null
  email_verified: boolean | number
  name: string | null
  given_name: string | null
  family_name: string | null
  admin: boolean | number
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
  nonce: string | null
  auth_time: number | null
  /** Space-separated claim names. */
  claims: string
  dpop_jkt: string | null
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
  auth_time: number | null
  /** Space-separated claim names. */
  claims: string
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
  jkt: string | null
}

export const USER_COLUMNS =
  'id, username, password_hash, created_at, email, email_verified, name, given_name, family_name, ' +
  'admin'

export const LOGIN_COLUMNS = 'hash, user_id, created_at, expires_at'

export const CODE_COLUMNS =
  'hash, client_id, user_id, redirect_uri, code_challenge, scope, login_hash, created_at, ' +
  'expires_at, used_at, session_id, nonce, auth_time, claims, dpop_jkt'

export const SESSION_COLUMNS =
  'id, user_id, client_id, scope, login_hash, created_at, expires_at, idle_expires_at, revoked_at, ' +
  'auth_time, claims'

export const REFRESH_COLUMNS =
  'hash, session_id, client_id, user_id, scope, issued_at, expires_at, used_at, successor_hash, ' +
  'successor_sealed, jkt'

/** Claim names as stored: space-separated, like a scope. */
function claimNames(stored: string): string[] {
  return stored === '' ? [] : stored.split(' ')
}

export function userFromRow(row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    createdAt: row.created_at,
    email: row.email,
    // SQLite has no boolean: 0 or 1.
    emailVerified: Boolean(row.email_verified),
    name: row.name,
    givenName: row.given_name,
    familyName: row.family_name,
    admin: Boolean(row.admin),
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
    nonce: row.nonce,
    authTime: row.auth_time,
    claims: claimNames(row.claims),
    dpopJkt: row.dpop_jkt,
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
    authTime: row.auth_time,
    claims: claimNames(row.claims),
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
    jkt: row.jkt,
  }
}

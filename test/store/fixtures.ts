/**
 * Records for the storage conformance suite: each builder returns a complete, valid record, and
 * `overrides` change what a test is about. No engine-specific values.
 */

import type {
  AuthorizationCodeRecord,
  ClientRecord,
  LoginRecord,
  OpaqueTokenRecord,
  RefreshTokenRecord,
  RevocationInput,
  RevocationKind,
  SessionRecord,
  UserRecord,
} from '../../src/store/types.js'

export const NOW = 1_700_000_000

export function client(clientId: string, overrides: Partial<ClientRecord> = {}): ClientRecord {
  return {
    clientId,
    secretHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo',
    grants: ['client_credentials'],
    scopes: ['read', 'write'],
    redirectUris: [],
    authMethod: 'client_secret_basic',
    jwks: null,
    jwksUri: null,
    audiences: [],
    exchangeAudiences: [],
    requirePar: false,
    requireDpop: false,
    allowedOrigins: [],
    displayName: null,
    logoUri: null,
    thirdParty: false,
    postLogoutRedirectUris: [],
    backchannelLogoutUri: null,
    idTokenSignedResponseAlg: 'RS256',
    accessTokenFormat: 'jwt',
    accessTokenTtl: 300,
    resourceServer: false,
    createdAt: NOW,
    ...overrides,
  }
}

export function token(hash: string, overrides: Partial<OpaqueTokenRecord> = {}): OpaqueTokenRecord {
  return {
    hash,
    clientId: 'svc',
    sub: 'user-1',
    scope: 'read write',
    aud: 'https://api.example.com',
    jti: `jti-${hash}`,
    sid: 'session-1',
    issuedAt: NOW,
    expiresAt: NOW + 300,
    jkt: null,
    ...overrides,
  }
}

export function revocation(
  kind: RevocationKind,
  value: string,
  overrides: Partial<RevocationInput> = {},
): RevocationInput {
  return {
    kind,
    value,
    clientId: 'svc',
    createdAt: NOW,
    expiresAt: NOW + 3600,
    ...overrides,
  }
}

export function user(id: string, overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    id,
    username: `name-${id}`,
    passwordHash: `$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$${id}`,
    createdAt: NOW,
    admin: false,
    email: null,
    emailVerified: false,
    name: null,
    givenName: null,
    familyName: null,
    ...overrides,
  }
}

export function login(hash: string, overrides: Partial<LoginRecord> = {}): LoginRecord {
  return { hash, userId: 'u1', createdAt: NOW, expiresAt: NOW + 3600, ...overrides }
}

export function code(
  hash: string,
  overrides: Partial<AuthorizationCodeRecord> = {},
): AuthorizationCodeRecord {
  return {
    hash,
    clientId: 'web',
    userId: 'u1',
    redirectUri: 'https://app.example.com/cb',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    scope: 'openid read',
    createdAt: NOW,
    expiresAt: NOW + 60,
    loginHash: 'login-1',
    usedAt: null,
    sessionId: null,
    nonce: 'n-0S6_WzA2Mj',
    authTime: NOW - 30,
    claims: ['email', 'name'],
    dpopJkt: null,
    ...overrides,
  }
}

export function session(id: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id,
    userId: 'u1',
    clientId: 'web',
    scope: 'openid read',
    createdAt: NOW,
    expiresAt: NOW + 86_400,
    idleExpiresAt: NOW + 3600,
    revokedAt: null,
    loginHash: null,
    authTime: NOW - 30,
    claims: ['email'],
    ...overrides,
  }
}

/** A current refresh token of `session` (its user, client and scope). */
export function refresh(
  hash: string,
  of: SessionRecord,
  overrides: Partial<RefreshTokenRecord> = {},
): RefreshTokenRecord {
  return {
    hash,
    sessionId: of.id,
    clientId: of.clientId,
    userId: of.userId,
    scope: of.scope,
    issuedAt: NOW,
    expiresAt: NOW + 7200,
    usedAt: null,
    successorHash: null,
    successorSealed: null,
    jkt: null,
    ...overrides,
  }
}

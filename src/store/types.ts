/**
 * The storage contract. Split by capability (clients, keys, tokens, revocations); every engine
 * implements all of them and passes `test/store/conformance.ts` unchanged.
 *
 * Conventions for every engine:
 * - Times are whole seconds since the epoch (`number`), passed in by the caller unless stated.
 * - Secrets and opaque tokens arrive here already hashed; an engine never sees token material.
 * - Expiry is enforced by the engine: a lookup past `expiresAt` returns `null`, as if absent.
 * - A failure to reach the database rejects with `StoreUnavailableError`; a broken uniqueness rule
 *   rejects with `ConflictError`. Nothing else is thrown for expected outcomes: absence is `null`.
 */

import type { JWK } from 'jose'

export type GrantType = 'client_credentials' | 'authorization_code' | 'refresh_token'
export const GRANT_TYPES: readonly GrantType[] = [
  'client_credentials',
  'authorization_code',
  'refresh_token',
]

export type AccessTokenFormat = 'jwt' | 'opaque'

export interface ClientRecord {
  clientId: string
  /** Encoded password-hash string of the secret (see `src/tokens/secrets.ts`); `null` for a public client. */
  secretHash: string | null
  grants: GrantType[]
  /** The scopes this client may be granted; a request narrows them, never widens them. */
  scopes: string[]
  /** Exact-match redirect URIs (RFC 9700 §2.1). */
  redirectUris: string[]
  /** `aud` of its access tokens; `null` means the issuer's default audience. */
  audience: string | null
  accessTokenFormat: AccessTokenFormat
  /** Access-token lifetime in seconds. */
  accessTokenTtl: number
  /** An API: may introspect any token and read the revocation feed. */
  resourceServer: boolean
  createdAt: number
}

/** @see https://www.rfc-editor.org/rfc/rfc6749#section-2 */
export interface ClientStore {
  /** Registers a client. Rejects with `ConflictError` when the id is taken. */
  createClient(client: ClientRecord): Promise<void>
  /** The client, or `null` when unknown. */
  getClient(clientId: string): Promise<ClientRecord | null>
  /** Every client, ordered by id. */
  listClients(): Promise<ClientRecord[]>
  /** Removes the client and every opaque token issued to it; `false` when it did not exist. */
  deleteClient(clientId: string): Promise<boolean>
}

export type SigningAlg = 'ES256' | 'RS256' | 'PS256' | 'EdDSA'
export const SIGNING_ALGS: readonly SigningAlg[] = ['ES256', 'RS256', 'PS256', 'EdDSA']

export interface SigningKeyRecord {
  /** RFC 7638 thumbprint of the public key. */
  kid: string
  alg: SigningAlg
  /** Public JWK, with `kid`, `alg` and `use: "sig"`. */
  publicJwk: JWK
  /** The private key, PKCS#8 PEM, possibly sealed (see `src/tokens/keys.ts`). Never sent anywhere. */
  privateKey: string
  createdAt: number
  /** From this time the key may sign; until then it is only published. */
  activatesAt: number
  /** When a newer key took over signing; `null` while it is the newest active key. */
  supersededAt: number | null
  /** After this time it is no longer published: every token it signed has expired. */
  publishedUntil: number | null
  /** Withdrawn at once: not published, its tokens refused. */
  retiredAt: number | null
}

/** @see https://www.rfc-editor.org/rfc/rfc7517 */
export interface KeyStore {
  /** Adds a key. Rejects with `ConflictError` when the kid exists. */
  insertKey(key: SigningKeyRecord): Promise<void>
  /** Every key, retired ones included, oldest first. */
  listKeys(): Promise<SigningKeyRecord[]>
  /** The key, or `null`. */
  getKey(kid: string): Promise<SigningKeyRecord | null>
  /**
   * Marks every unretired, unsuperseded key other than `kid` as superseded at `at`, published until
   * `publishedUntil`. Atomic: used by rotation after `insertKey` of the successor.
   */
  supersedeKeysExcept(kid: string, at: number, publishedUntil: number): Promise<void>
  /** Retires the key now; `false` when unknown or already retired. */
  retireKey(kid: string, at: number): Promise<boolean>
}

export interface OpaqueTokenRecord {
  /** SHA-256 of the token, base64url. The token itself is never stored. */
  hash: string
  clientId: string
  sub: string
  /** Space-separated granted scope. */
  scope: string
  aud: string
  /** A unique id (reported as `jti` by introspection). */
  jti: string
  /** The session this token belongs to, or `null` for a client's own token. */
  sid: string | null
  issuedAt: number
  expiresAt: number
}

export interface TokenStore {
  /** Stores an opaque access token. */
  saveToken(token: OpaqueTokenRecord): Promise<void>
  /** The live token with this hash, or `null` when unknown or expired at `now`. */
  findToken(hash: string, now: number): Promise<OpaqueTokenRecord | null>
  /**
   * Revokes the token: deletes it and appends `event` in one transaction, so that a revoked token
   * is always in the feed. `false` (and no event) when there was no such token.
   */
  revokeToken(hash: string, event: RevocationInput): Promise<boolean>
  /** Deletes tokens expired before `now`; returns how many. */
  pruneTokens(now: number): Promise<number>
}

/**
 * What a revocation covers: one JWT (`jti`), one opaque token (`token`, its hash), a session (`sid`),
 * a user (`sub`), a client (`client`) or a signing key (`kid`).
 */
export type RevocationKind = 'jti' | 'token' | 'sid' | 'sub' | 'client' | 'kid'

export interface RevocationInput {
  kind: RevocationKind
  value: string
  /** The client that owned what was revoked, when there is one. */
  clientId: string | null
  createdAt: number
  /** After this time nothing it covers can still be live, so it may be forgotten. */
  expiresAt: number
}

export interface RevocationEvent extends RevocationInput {
  /** Strictly increasing across the store. */
  seq: number
}

export interface RevocationRef {
  kind: RevocationKind
  value: string
}

/** @see https://www.rfc-editor.org/rfc/rfc7009 */
export interface RevocationStore {
  /**
   * Appends an event durably and returns its sequence number. Resolves only once the event would
   * survive a crash of this process: an acknowledged revocation is never lost.
   */
  appendRevocation(event: RevocationInput): Promise<number>
  /**
   * Whether any live event (not expired at `now`) matches one of `refs`. `sub` and `client` events
   * cover only what was issued at or before the event (`issuedAt <= createdAt`); the others always.
   */
  isRevoked(refs: RevocationRef[], issuedAt: number, now: number): Promise<boolean>
  /** Events with `seq > after`, ascending, at most `limit`. */
  listRevocations(after: number, limit: number): Promise<RevocationEvent[]>
  /** Deletes events expired before `now`; returns how many. */
  pruneRevocations(now: number): Promise<number>
}

export interface Store extends ClientStore, KeyStore, TokenStore, RevocationStore {
  /** Which engine: `sqlite`, `postgres`, … */
  readonly engine: string
  /** Resolves when the store answers a trivial query; rejects with `StoreUnavailableError`. */
  ping(): Promise<void>
  /** Closes connections. Idempotent. */
  close(): Promise<void>
}

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

import type { SigningAlg } from '@latchkey/verifier/jwt'
import type { JSONWebKeySet, JWK } from 'jose'

/** A `grant_type` value; the server's grants are listed in `src/server/grants/index.ts`. */
export type GrantType = string

export type AccessTokenFormat = 'jwt' | 'opaque'

/**
 * How a client authenticates at the token endpoint (`token_endpoint_auth_method`); `none` is a
 * public client.
 * @see https://www.rfc-editor.org/rfc/rfc7591#section-2
 */
export type ClientAuthMethod =
  'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none'
export const CLIENT_AUTH_METHODS: readonly ClientAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  'none',
]

export interface ClientRecord {
  clientId: string
  /**
   * Encoded password-hash string of the secret (see `src/tokens/secrets.ts`); `null` for a client
   * without one (`none`, `private_key_jwt`).
   */
  secretHash: string | null
  /**
   * How it authenticates at the token endpoint, the only method it may use; `null` for a client with a
   * secret registered without choosing (`client create` without `--auth-method`, and every client of
   * a database from before methods were chosen), which may send its secret either way
   * (`client_secret_basic` or `client_secret_post`).
   */
  authMethod: ClientAuthMethod | null
  /** Its public keys given inline, for `private_key_jwt`; `null` when none were. */
  jwks: JSONWebKeySet | null
  /** Where its public keys are published, for `private_key_jwt`; `null` when not. */
  jwksUri: string | null
  grants: GrantType[]
  /** The scopes this client may be granted; a request narrows them, never widens them. */
  scopes: string[]
  /** Exact-match redirect URIs (RFC 9700 §2.1). */
  redirectUris: string[]
  /**
   * The resources its access tokens may be addressed to (RFC 8707): the first is the default `aud`;
   * empty means the issuer's default audience.
   */
  audiences: string[]
  /** The audiences it may exchange a token toward (RFC 8693 token exchange). */
  exchangeAudiences: string[]
  /** Its authorization requests must be pushed first (RFC 9126 §6). */
  requirePar: boolean
  /**
   * Its token requests must carry a DPoP proof, so every access token it gets is bound to a key
   * (RFC 9449 §5.2 `dpop_bound_access_tokens`).
   */
  requireDpop: boolean
  /**
   * Browser origins (`scheme://host[:port]`) allowed cross-origin calls besides those of its redirect
   * URIs (which count only for a public client).
   */
  allowedOrigins: string[]
  /**
   * The algorithm its ID tokens are signed with (OpenID Connect Registration §2
   * `id_token_signed_response_alg`): RS256 unless created otherwise, one the server has a key lineage
   * for.
   */
  idTokenSignedResponseAlg: SigningAlg
  /** The name shown to users on the login page (RFC 7591 `client_name`); `null` shows its id. */
  displayName: string | null
  /** An https (or loopback http) image shown on the login page (RFC 7591 `logo_uri`). */
  logoUri: string | null
  /**
   * A third-party client: users are asked to consent to the scopes it requests (OIDC Core §3.1.2.4),
   * and their consent is remembered. `false` (first-party): no consent page.
   */
  thirdParty: boolean
  /**
   * Where the browser may be sent after logout (OpenID Connect RP-Initiated Logout 1.0 §3): exact
   * match, as redirect URIs.
   */
  postLogoutRedirectUris: string[]
  /**
   * Where its logout tokens are POSTed when one of its sessions ends (OpenID Connect Back-Channel
   * Logout 1.0 §2.2); `null`: it gets none.
   */
  backchannelLogoutUri: string | null
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
  /**
   * Removes the client with every opaque token, session, refresh token and code issued to it and every
   * consent given to it, and
   * appends `event` (a `client` revocation covering its JWTs) in the same transaction, so that no
   * reader ever sees the event without the deletion or the deletion without the event. `false`
   * (nothing appended) when it did not exist.
   */
  deleteClient(clientId: string, event: RevocationInput): Promise<boolean>
  /**
   * Replaces every field of the client with id `client.clientId` (its tokens, sessions and consents
   * stay); `false` when there is none.
   */
  updateClient(client: ClientRecord): Promise<boolean>
}

// The algorithms are the verifier's: the server signs only what every resource server can check.
export { SIGNING_ALGS, type SigningAlg } from '@latchkey/verifier/jwt'

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
  /**
   * When it stops signing: the earliest `activatesAt` of the unretired keys of its alg added after it;
   * `null` while none is. Kept by the store's key writes (see `src/tokens/keys.ts` for the whole rule).
   */
  supersededAt: number | null
  /** After this time it is no longer published: every token it signed has expired. */
  publishedUntil: number | null
  /** Withdrawn at once: not published, its tokens refused. */
  retiredAt: number | null
}

/**
 * The keys form one lineage per `alg` (see `src/tokens/keys.ts`): every write below supersedes, or
 * looks for, keys of the written key's alg only.
 * @see https://www.rfc-editor.org/rfc/rfc7517
 */
export interface KeyStore {
  /**
   * Adds a key as it is, superseding nothing (imports and tests). Rejects with `ConflictError` when the
   * kid exists.
   */
  insertKey(key: SigningKeyRecord): Promise<void>
  /**
   * Adds `key` as the newest key of its alg (a rotation): every unretired key of `key.alg` added before
   * it that would still sign at `key.activatesAt` (`supersededAt` unset or later) is superseded at
   * `key.activatesAt` and published until `key.activatesAt + keepFor`. Keys that stopped signing
   * earlier keep their dates, and keys of other algs are untouched. Atomic with respect to other key
   * writes. Rejects with `ConflictError` when the kid exists.
   */
  insertNewestKey(key: SigningKeyRecord, keepFor: number): Promise<void>
  /**
   * Adds `key` as `insertNewestKey` does, but only when no key of `key.alg` signs at `now` (one
   * unretired, with `activatesAt <= now` and `supersededAt` unset or after `now`); `false` (nothing
   * added) when one does. Atomic across processes sharing the store: of concurrent calls for one alg
   * on a store without a signing key of it exactly one adds its key, so nodes starting together agree
   * on one key per alg. Does not check `key`.
   */
  insertKeyUnlessSigning(key: SigningKeyRecord, now: number, keepFor: number): Promise<boolean>
  /** Every key, retired ones included, in the order they were added (oldest first). */
  listKeys(): Promise<SigningKeyRecord[]>
  /** The key, or `null`. */
  getKey(kid: string): Promise<SigningKeyRecord | null>
  /**
   * Retires the key at `at`; `false` (nothing changed) when unknown or already retired. Then every
   * unretired key of its alg still signing or due to sign after `at` (`supersededAt` later than `at`)
   * gets again the `supersededAt` the rule gives without the retired key: the earliest `activatesAt`
   * of the unretired keys of that alg added after it (`null` when none), published until that plus
   * `keepFor`. Keys of other algs are untouched. Atomic with respect to other key writes. Does not
   * check that the key is not the one signing.
   */
  retireKey(kid: string, at: number, keepFor: number): Promise<boolean>
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
  /**
   * The RFC 7638 thumbprint of the key the token is bound to (RFC 9449 §6: introspection reports it
   * as `cnf.jkt`), or `null` for a bearer token.
   */
  jkt: string | null
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
  /**
   * Deletes tokens expired before `now`, with the single-use values and pushed requests expired
   * before it (`SingleUseStore`); returns how many rows.
   */
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
  /**
   * Calls `onAppend` soon after any process appends an event, so that a reader can call
   * `listRevocations` at once rather than at its next poll; returns the function that stops it. A
   * hint only: calls may be merged, spurious, or missing while the engine's channel is down, so the
   * reader keeps polling. Optional: an engine without a push channel leaves it out.
   */
  watchRevocations?(onAppend: () => void): () => Promise<void>
  /**
   * The highest `seq` ever deleted by `pruneRevocations` (0 when none was). A reader whose cursor is
   * below it may have missed events and must reload the full set of live events.
   */
  prunedThrough(): Promise<number>
}

/**
 * What a user tells about themselves: the OpenID Connect standard claims Latchkey keeps, served by
 * the userinfo endpoint. `null`: not set.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#StandardClaims (OIDC Core §5.1)
 */
export interface UserProfile {
  /** `email`: an addr-spec (RFC 5322 §3.4.1), at most 254 characters. */
  email: string | null
  /** `email_verified`: whether the operator vouches that the address is the user's. */
  emailVerified: boolean
  /** `name`: full name, for display. */
  name: string | null
  /** `given_name`. */
  givenName: string | null
  /** `family_name`. */
  familyName: string | null
}

export interface UserRecord extends UserProfile {
  /** Random, stable id; the `sub` of the user's tokens. */
  id: string
  /** Unique, case-sensitive login name. */
  username: string
  /** Encoded password hash (see `src/tokens/secrets.ts`). */
  passwordHash: string
  createdAt: number
  /** The admin role: only an admin's login may be granted the scope `latchkey:admin`. */
  admin: boolean
}

export interface UserStore {
  /** Adds a user. Rejects with `ConflictError` when the username (or id) is taken. */
  createUser(user: UserRecord): Promise<void>
  /** The user, or `null`. */
  getUser(id: string): Promise<UserRecord | null>
  /** The user with this exact username, or `null`. */
  getUserByUsername(username: string): Promise<UserRecord | null>
  /** Every user, ordered by username. */
  listUsers(): Promise<UserRecord[]>
  /** Replaces the password hash; `false` when the user does not exist. */
  setPasswordHash(id: string, passwordHash: string): Promise<boolean>
  /**
   * Replaces the whole profile (every field of `UserProfile`) and nothing else; `false` when the user
   * does not exist. Does not validate the values: the caller does (`admin/users.ts`).
   */
  setUserProfile(id: string, profile: UserProfile): Promise<boolean>
  /** Gives or takes the admin role; `false` when the user does not exist. */
  setUserAdmin(id: string, admin: boolean): Promise<boolean>
  /**
   * Forgives the user's failed logins up to `at` (seconds since the epoch), for every node: the login
   * throttle of each server reads it back with `getLoginsUnlockedAt` (`latchkey user unlock`). `false`
   * when the user does not exist.
   */
  unlockLogins(id: string, at: number): Promise<boolean>
  /** When the user's failed logins were last forgiven by `unlockLogins`; `null` when never or unknown. */
  getLoginsUnlockedAt(username: string): Promise<number | null>
  /**
   * Deletes the user with everything that lets them in: sessions (ended as by `revokeSessions`),
   * browser logins, unused codes, refresh tokens and opaque access tokens of those sessions, and
   * their consents; `event`
   * (a `sub` revocation) is appended in the same transaction. `false` (nothing appended) when unknown.
   */
  deleteUser(id: string, event: RevocationInput): Promise<boolean>
}

/** A browser's login at the authorization server, remembered by an HttpOnly cookie. */
export interface LoginRecord {
  /** SHA-256 of the cookie value, base64url. */
  hash: string
  userId: string
  createdAt: number
  expiresAt: number
}

/**
 * A session: one login by a user at one client, the lineage of refresh tokens that came from it, and
 * the unit of revocation (`sid` in its access tokens).
 */
export interface SessionRecord {
  id: string
  userId: string
  clientId: string
  /** Granted scope, space-separated. */
  scope: string
  createdAt: number
  /** Absolute end, whatever the activity. */
  expiresAt: number
  /** Ends earlier when no refresh happens before this time; pushed forward by each refresh. */
  idleExpiresAt: number
  /** Set when ended; a revoked session never comes back. */
  revokedAt: number | null
  /**
   * Hash of the browser login it came from. Ending the session ends that login too, or the browser
   * would get a fresh session at once without the user's password.
   */
  loginHash: string | null
  /**
   * When the user authenticated (the browser login's `createdAt`), the ID tokens' `auth_time`
   * (OpenID Connect Core §2); `null` for a session from before it was kept.
   */
  authTime: number | null
  /** The standard claims its ID tokens carry when the scope allows (see `AuthorizationCodeRecord`). */
  claims: string[]
}

/** An authorization code (RFC 6749 §4.1), stored by hash. */
export interface AuthorizationCodeRecord {
  hash: string
  clientId: string
  userId: string
  redirectUri: string
  /** PKCE S256 challenge (RFC 7636 §4.2). */
  codeChallenge: string
  scope: string
  createdAt: number
  expiresAt: number
  /** The browser login that approved it. */
  loginHash: string | null
  /** Set when redeemed. */
  usedAt: number | null
  /** The session the redemption created, so a replay can end it (RFC 6749 §4.1.2). */
  sessionId: string | null
  /** The request's `nonce` (OpenID Connect Core §3.1.2.1), exactly as sent; `null` when none was. */
  nonce: string | null
  /** When the login that approved it authenticated the user (`auth_time`); `null` when unknown. */
  authTime: number | null
  /**
   * The standard claims the request's `claims` parameter asked for in the ID token (OpenID Connect
   * Core §5.5), by name; empty when none. Whether the granted scope allows each is decided at issue.
   */
  claims: string[]
  /**
   * The request's `dpop_jkt` (RFC 9449 §10): the thumbprint of the key whose DPoP proof must come
   * with the code's redemption; `null` when none was sent.
   */
  dpopJkt: string | null
}

export interface RefreshTokenRecord {
  /** SHA-256 of the token, base64url. */
  hash: string
  sessionId: string
  clientId: string
  userId: string
  scope: string
  issuedAt: number
  expiresAt: number
  /**
   * When it was exchanged for its successor (seconds, with the fraction `rotateRefreshToken` was given);
   * `null` while it is the session's current token.
   */
  usedAt: number | null
  /** Hash of the successor, once rotated. */
  successorHash: string | null
  /**
   * The successor token sealed under a key derived from this token itself, so that only a client that
   * presents this token again (a retry inside the grace window) can recover it. `null` until rotated.
   */
  successorSealed: string | null
  /**
   * The thumbprint of the key a public client's refresh token is bound to (RFC 9449 §5): a refresh
   * needs a proof of that key. Carried along rotation; `null` when unbound.
   */
  jkt: string | null
}

/** What happened to a presented refresh token. */
export type RotateOutcome =
  /** It was current; it is now used, and `successor` is stored as the session's token. */
  | { outcome: 'rotated'; previous: RefreshTokenRecord }
  /** It had already been rotated (its record, with `usedAt` and `successorSealed`). Nothing changed. */
  | { outcome: 'reused'; previous: RefreshTokenRecord }
  /** Unknown, expired, or its session has ended. Nothing changed. */
  | { outcome: 'invalid' }

export interface SessionStore {
  /** Remembers a browser login. */
  createLogin(login: LoginRecord): Promise<void>
  /** The live login with this cookie hash, or `null` (unknown, expired, or its user's sessions revoked). */
  getLogin(hash: string, now: number): Promise<LoginRecord | null>
  /** Ends a browser login; `false` when there was none. */
  deleteLogin(hash: string): Promise<boolean>

  /** Stores a new code. */
  saveCode(code: AuthorizationCodeRecord): Promise<void>
  /**
   * Redeems a code atomically: of concurrent calls exactly one gets `{ outcome: 'redeemed' }` (and
   * `usedAt` is set to `now`); the others, and any later call, get `{ outcome: 'replayed' }` with the
   * record. Unknown or expired (at `now`) codes give `null`. Conditional update, never read-then-write.
   */
  redeemCode(
    hash: string,
    now: number,
  ): Promise<{ outcome: 'redeemed' | 'replayed'; code: AuthorizationCodeRecord } | null>
  /**
   * Starts a session with its first refresh token (or none, `null`), and records it on the code it
   * came from (`codeHash`, or `null`), in one transaction.
   */
  createSession(
    session: SessionRecord,
    refresh: RefreshTokenRecord | null,
    codeHash: string | null,
  ): Promise<void>
  /** The session, or `null`. Returns revoked and expired sessions too: check `revokedAt`/expiry. */
  getSession(id: string): Promise<SessionRecord | null>
  /** Sessions of a user or of a client that are live at `now`, newest first. */
  listSessions(
    filter: { userId?: string; clientId?: string },
    now: number,
  ): Promise<SessionRecord[]>
  /**
   * Rotates a refresh token atomically: when the token with `hash` is current (unused, unexpired at
   * `now`, its session live at `now`), marks it used (`usedAt = now`, `successorHash =
   * successor.hash`, `successorSealed`), stores `successor`, and pushes the session's idle expiry to
   * `idleExpiresAt`, all in one transaction. Of concurrent calls for one token exactly one gets
   * `rotated`; a conditional update, never read-then-write. `now` may carry a fraction of a second,
   * which `usedAt` keeps: the grace window for a retry is shorter than a second.
   */
  rotateRefreshToken(
    hash: string,
    successor: RefreshTokenRecord,
    successorSealed: string,
    idleExpiresAt: number,
    now: number,
  ): Promise<RotateOutcome>
  /**
   * Ends a session: sets `revokedAt`, deletes its refresh tokens, its opaque access tokens and its
   * browser login, and appends `event` (a `sid` revocation covering its JWTs), in one durable
   * transaction. `false` (no
   * event) when the session does not exist or was already revoked.
   */
  revokeSession(id: string, event: RevocationInput): Promise<boolean>
  /**
   * Ends every live session of a user and forgets their browser logins, like `revokeSession` for each
   * (one `sid` event each, built by `eventFor`), in one durable transaction. Returns the ended ids.
   */
  revokeUserSessions(
    userId: string,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): Promise<string[]>
  /**
   * Ends a browser login (logout, OpenID Connect RP-Initiated Logout 1.0 §2) and every session that
   * came from it (`loginHash`) and is live at `now`, like `revokeSession` for each (one `sid` event
   * each, built by `eventFor`), in one durable transaction. Returns the ended session ids, newest
   * first; the login is gone afterwards whether it existed or not.
   */
  endLogin(
    hash: string,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): Promise<string[]>
  /**
   * The refresh token with this hash, used or not, while unexpired at `now` and its session is live;
   * `null` otherwise. For introspection and revocation, never for rotation (use `rotateRefreshToken`).
   */
  getRefreshToken(hash: string, now: number): Promise<RefreshTokenRecord | null>
  /** Deletes expired codes, logins, refresh tokens and sessions; returns how many rows. */
  pruneSessions(now: number): Promise<number>
}

/** A pushed authorization request (RFC 9126), stored by the hash of its `request_uri`. */
export interface PushedRequestRecord {
  /** SHA-256 of the `request_uri`, base64url. */
  hash: string
  /** The client that pushed it: only it may use it. */
  clientId: string
  /** The authorization request's parameters. */
  params: Record<string, string>
  expiresAt: number
}

/**
 * Values that may be used once across every node sharing the store: the `jti` of a client assertion
 * (RFC 7523 §3), of a DPoP proof (RFC 9449 §11.1), and pushed authorization requests (RFC 9126).
 */
export interface SingleUseStore {
  /**
   * Records that `key` of `kind` (a namespace, such as `client_assertion`) was used, until
   * `expiresAt`. `true` the first time; `false` when it was already used and that use has not expired
   * at `now` (a replay). Atomic across processes: of concurrent calls for one (kind, key) exactly one
   * gets `true`; a conditional insert, never read-then-write. Does not check that `expiresAt` is in
   * the future: a value already expired is recorded and may be used again at once.
   * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
   */
  useOnce(kind: string, key: string, expiresAt: number, now: number): Promise<boolean>
  /** Stores a pushed request. Rejects with `ConflictError` when the hash is taken. */
  putPushed(record: PushedRequestRecord): Promise<void>
  /**
   * Takes the pushed request with this hash for `clientId`: deletes it and returns its parameters.
   * Single use and atomic: of concurrent takes exactly one gets them. `null` when unknown, expired at
   * `now`, or pushed by another client (that call leaves it in place).
   * @see https://www.rfc-editor.org/rfc/rfc9126#section-2.2
   */
  takePushed(hash: string, clientId: string, now: number): Promise<Record<string, string> | null>
}

/**
 * A user's remembered consent to a third-party client: the scopes they approved, ever (the union of
 * every approval).
 * @see https://openid.net/specs/openid-connect-core-1_0.html#Consent (OIDC Core §3.1.2.4)
 */
export interface ConsentRecord {
  userId: string
  clientId: string
  /** Every scope approved, sorted, without repeats. */
  scope: string[]
  /** The first approval. */
  grantedAt: number
  /** The latest approval. */
  updatedAt: number
}

export interface ConsentStore {
  /**
   * Remembers that `userId` approved `scope` for `clientId` at `at`: the stored scope becomes the
   * union of what was approved before and `scope` (`grantedAt` kept, `updatedAt = at`). Atomic: of
   * concurrent grants for one (user, client) none loses the other's scopes. Does not check that the
   * user or the client exist, nor the scopes.
   */
  grantConsent(userId: string, clientId: string, scope: string[], at: number): Promise<void>
  /** The consent of `userId` to `clientId`, or `null` when none is remembered. */
  getConsent(userId: string, clientId: string): Promise<ConsentRecord | null>
  /** The consents of a user, of a client, or of both (one at most); ordered by user, then client. */
  listConsents(filter: { userId?: string; clientId?: string }): Promise<ConsentRecord[]>
  /**
   * Forgets the consent of `userId` to `clientId`, or to every client when `clientId` is `null`, and
   * ends the user's live sessions (at `now`) at each client whose consent it forgot, as
   * `revokeSession` does but keeping the browser logins (the next authorization asks for consent
   * again): their refresh and opaque access tokens are deleted, their unused codes too, and one
   * `sid` event each (built by `eventFor`) is appended, all in one durable transaction. Returns the
   * clients whose consent was forgotten and the ended sessions (both empty when there was none).
   */
  revokeConsent(
    userId: string,
    clientId: string | null,
    now: number,
    eventFor: (session: SessionRecord) => RevocationInput,
  ): Promise<{ clients: string[]; sessions: string[] }>
}

/**
 * One entry of the audit log: an operator's action or a security event, kept for the operators to
 * read (`latchkey audit list`) until the retention prunes it. Never holds a secret, a password or a
 * token.
 */
export interface AuditEvent {
  /** Increasing with each append (the store's order). */
  id: number
  /** When, in seconds since the epoch. */
  at: number
  /** What happened, such as `client.created` or `refresh_token.reused` (docs/SERVER.md, "Audit log"). */
  kind: string
  /** Who: `cli:<os user>`, an admin API caller, or `-` for the server itself. */
  actor: string
  /** What it concerns: a client id, a user id, a key id, a session id; `null` when nothing. */
  subject: string | null
  /** The remote address of the request, or `null` (the CLI). */
  address: string | null
  /** More about it, as a JSON object of plain values. */
  details: Record<string, unknown>
}

/** An audit event before the store numbers it. */
export type AuditInput = Omit<AuditEvent, 'id'>

/** Which audit events `listAudit` returns: every field that is set must match. */
export interface AuditFilter {
  /** At or after, in seconds. */
  since?: number
  /** At or before, in seconds. */
  until?: number
  actor?: string
  kind?: string
  /** Only events with an `id` below this one (the next page of a newest-first listing). */
  before?: number
  /** At most this many, newest first. */
  limit: number
}

export interface AuditStore {
  /** Appends an event; returns its `id`. */
  appendAudit(event: AuditInput): Promise<number>
  /** The events that match `filter`, newest first (by `id`). */
  listAudit(filter: AuditFilter): Promise<AuditEvent[]>
  /** Deletes the events from before `before` (seconds, exclusive); returns how many. */
  pruneAudit(before: number): Promise<number>
}

export interface Store
  extends
    ClientStore,
    KeyStore,
    TokenStore,
    RevocationStore,
    UserStore,
    SessionStore,
    SingleUseStore,
    ConsentStore,
    AuditStore {
  /** Which engine: `sqlite`, `postgres`, … */
  readonly engine: string
  /** Resolves when the store answers a trivial query; rejects with `StoreUnavailableError`. */
  ping(): Promise<void>
  /** Closes connections. Idempotent. */
  close(): Promise<void>
}

/**
 * The web console's own client: a public client (`token_endpoint_auth_method` `none`, PKCE) through
 * which an operator signs in at Latchkey's authorization endpoint, as any single-page app would, and
 * gets an access token for the admin API. `latchkey serve` makes sure it exists at every start, so the
 * console works on a fresh database without a step of its own.
 *
 * Its managed fields (grants, scopes, redirect and post-logout URIs, first-party, no PAR/DPoP) follow
 * the issuer: a restart with another issuer (or one with a path) moves them; any other field an
 * operator changed (the token lifetime, the display name) stays. Safe with several nodes starting at
 * once: a creation that loses the race to another node's (`ConflictError`) reads the winner's record,
 * and two nodes with the same issuer write the same values.
 *
 * An issuer the console cannot be reached at safely (plain http on a name other than loopback) gets
 * no console client: the redirect URI would carry the code in the clear (RFC 8252 §7.3).
 */
import { recordAudit, SERVER_ACTOR, type AuditContext } from '../audit/record.js'
import { ConflictError, UsageError } from '../errors.js'
import { ADMIN_SCOPE } from '../server/scope.js'
import type { ClientRecord, Store } from '../store/types.js'
import { DEFAULT_ACCESS_TOKEN_TTL, ID_TOKEN_DEFAULT_ALG } from '../tokens/key_management.js'
import { checkRedirectUri } from './clients.js'

export const CONSOLE_CLIENT_ID = 'latchkey-console'

/** Where the console is served, under the issuer: its page is also its redirect URI. */
export const CONSOLE_PATH = '/console/'

/** The console's URL for `issuer` (`https://h/auth` → `https://h/auth/console/`). */
export function consoleUrl(issuer: string): string {
  return issuer.replace(/\/+$/, '') + CONSOLE_PATH
}

/**
 * Whether the console may sign in at `issuer`: https, or http on a loopback address (RFC 8252 §7.3),
 * as any redirect URI.
 */
export function consoleAllowed(issuer: string): boolean {
  try {
    checkRedirectUri(consoleUrl(issuer))
    return true
  } catch (err) {
    if (err instanceof UsageError) return false
    throw err
  }
}

/** The fields of the console client that follow the issuer and this module, whatever was edited. */
type Managed = Pick<
  ClientRecord,
  | 'grants'
  | 'scopes'
  | 'redirectUris'
  | 'postLogoutRedirectUris'
  | 'authMethod'
  | 'secretHash'
  | 'thirdParty'
  | 'requirePar'
  | 'requireDpop'
>

function managedFields(issuer: string): Managed {
  const url = consoleUrl(issuer)
  return {
    // A refresh token keeps an operator signed in past the access token's few minutes.
    grants: ['authorization_code', 'refresh_token'],
    scopes: ['openid', ADMIN_SCOPE],
    redirectUris: [url],
    postLogoutRedirectUris: [url],
    authMethod: 'none',
    secretHash: null,
    thirdParty: false,
    requirePar: false,
    requireDpop: false,
  }
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i])

function differs(current: ClientRecord, wanted: Managed): (keyof Managed)[] {
  return (Object.keys(wanted) as (keyof Managed)[]).filter((k) => {
    const a = current[k]
    const b = wanted[k]
    return Array.isArray(a) && Array.isArray(b) ? !sameList(a, b) : a !== b
  })
}

/**
 * Creates the console client, or brings its managed fields in line with `issuer`. Returns what it did:
 * `created`, `updated`, `unchanged`, or `skipped` when the issuer is plain http on a name other than
 * loopback (see the module comment). Records `client.created` / `client.updated` in the audit log.
 */
export async function ensureConsoleClient(
  store: Store,
  issuer: string,
  now: number,
  by: AuditContext = { actor: SERVER_ACTOR },
): Promise<'created' | 'updated' | 'unchanged' | 'skipped'> {
  if (!consoleAllowed(issuer)) return 'skipped'
  const wanted = managedFields(issuer)
  let current = await store.getClient(CONSOLE_CLIENT_ID)
  if (!current) {
    const record: ClientRecord = {
      clientId: CONSOLE_CLIENT_ID,
      ...wanted,
      jwks: null,
      jwksUri: null,
      audiences: [],
      exchangeAudiences: [],
      allowedOrigins: [],
      idTokenSignedResponseAlg: ID_TOKEN_DEFAULT_ALG,
      displayName: 'Latchkey console',
      logoUri: null,
      backchannelLogoutUri: null,
      accessTokenFormat: 'jwt',
      accessTokenTtl: DEFAULT_ACCESS_TOKEN_TTL,
      resourceServer: false,
      createdAt: now,
    }
    try {
      await store.createClient(record)
      await recordAudit(store, by, {
        kind: 'client.created',
        subject: CONSOLE_CLIENT_ID,
        details: { grants: record.grants, scopes: record.scopes, public: true },
      })
      return 'created'
    } catch (err) {
      // Another node created it first: check theirs like any existing record.
      if (!(err instanceof ConflictError)) throw err
      current = await store.getClient(CONSOLE_CLIENT_ID)
      if (!current) throw err
    }
  }
  const changed = differs(current, wanted)
  if (changed.length === 0) return 'unchanged'
  await store.updateClient({ ...current, ...wanted })
  await recordAudit(store, by, {
    kind: 'client.updated',
    subject: CONSOLE_CLIENT_ID,
    details: { fields: changed },
  })
  return 'updated'
}

/**
 * `latchkey client create|list|show|delete`: registering the applications and APIs that use the server.
 */
import { OAuthError } from '../../errors.js'
import {
  GRANT_TYPES,
  type AccessTokenFormat,
  type ClientRecord,
  type GrantType,
  type Store,
} from '../../store/types.js'
import { DEFAULT_ACCESS_TOKEN_TTL } from '../../tokens/key_management.js'
import { generateSecret, hashSecret } from '../../tokens/secrets.js'
import { parseScope } from '../../server/scope.js'
import { printJSON, UsageError } from '../output.js'
import { withStore } from '../store.js'

export const MIN_SECRET_LENGTH = 20
export const MAX_ACCESS_TOKEN_TTL = 86_400
/** Client ids are printable ASCII without spaces or separators that would need escaping anywhere. */
const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/

export interface CreateClientOptions {
  db?: string
  id: string
  secret?: string
  grant: string[]
  scope?: string
  redirectUri?: string[]
  audience?: string
  accessTokenFormat?: string
  accessTokenTtl?: string
  resourceServer?: boolean
  public?: boolean
}

/** The client as printed: wire spelling (RFC 7591 names where there are any). */
export function clientJSON(c: ClientRecord): Record<string, unknown> {
  return {
    client_id: c.clientId,
    token_endpoint_auth_method: c.secretHash === null ? 'none' : 'client_secret_basic',
    grant_types: c.grants,
    scope: c.scopes.join(' '),
    redirect_uris: c.redirectUris,
    audience: c.audience,
    access_token_format: c.accessTokenFormat,
    access_token_ttl: c.accessTokenTtl,
    resource_server: c.resourceServer,
    created_at: new Date(c.createdAt * 1000).toISOString(),
  }
}

function checkRedirectUri(uri: string): string {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw new UsageError(`--redirect-uri ${JSON.stringify(uri)} is not an absolute URL`)
  }
  // RFC 6749 §3.1.2: absolute, no fragment. RFC 8252 §7.3: http only for loopback.
  if (url.hash || uri.includes('#')) throw new UsageError(`--redirect-uri must not have a fragment`)
  if (url.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
    throw new UsageError('--redirect-uri must be https (http is allowed only for loopback)')
  }
  if (['javascript:', 'data:', 'file:', 'vbscript:'].includes(url.protocol)) {
    throw new UsageError(`--redirect-uri scheme ${url.protocol} is not allowed`)
  }
  return uri
}

function checkGrants(grants: string[]): GrantType[] {
  if (grants.length === 0) throw new UsageError('at least one --grant is required')
  for (const g of grants) {
    if (!(GRANT_TYPES as readonly string[]).includes(g)) {
      throw new UsageError(
        `unknown grant ${JSON.stringify(g)}: use one of ${GRANT_TYPES.join(', ')}`,
      )
    }
  }
  return [...new Set(grants)] as GrantType[]
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

function checkTtl(value: string | undefined): number {
  if (value === undefined) return DEFAULT_ACCESS_TOKEN_TTL
  const ttl = Number(value)
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_ACCESS_TOKEN_TTL) {
    throw new UsageError(
      `--access-token-ttl must be a whole number of seconds from 1 to ${MAX_ACCESS_TOKEN_TTL}`,
    )
  }
  return ttl
}

/** Validates options into a record (without secret hash) and the secret to hash, if any. */
export function buildClient(
  o: CreateClientOptions,
  now: number,
): { client: Omit<ClientRecord, 'secretHash'>; secret: string | null; generated: boolean } {
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
  const redirectUris = [...new Set((o.redirectUri ?? []).map(checkRedirectUri))]
  if (grants.includes('authorization_code') && redirectUris.length === 0) {
    throw new UsageError('the authorization_code grant needs at least one --redirect-uri')
  }
  if (o.audience !== undefined && o.audience.trim() === '')
    throw new UsageError('--audience is empty')
  let secret: string | null = null
  let generated = false
  if (o.public) {
    if (o.secret !== undefined) throw new UsageError('a --public client has no --secret')
    if (grants.includes('client_credentials')) {
      throw new UsageError('a --public client cannot use the client_credentials grant')
    }
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
      audience: o.audience ?? null,
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

export async function createClient(o: CreateClientOptions): Promise<void> {
  const { client, secret, generated } = buildClient(o, now())
  await withStore(o.db, async (store) => {
    if (await store.getClient(client.clientId)) {
      throw new UsageError(`a client with id ${client.clientId} already exists`)
    }
    const secretHash = secret === null ? null : await hashSecret(secret)
    const record: ClientRecord = { ...client, secretHash }
    await store.createClient(record)
    const out = clientJSON(record)
    // Shown once: only the hash is kept.
    if (generated) out.client_secret = secret
    printJSON(out)
  })
}

async function mustGetClient(store: Store, id: string): Promise<ClientRecord> {
  const client = await store.getClient(id)
  if (!client) throw new UsageError(`no client with id ${id}`)
  return client
}

export async function listClients(o: { db?: string }): Promise<void> {
  await withStore(o.db, async (store) => printJSON((await store.listClients()).map(clientJSON)))
}

export async function showClient(o: { db?: string; id: string }): Promise<void> {
  await withStore(o.db, async (store) => printJSON(clientJSON(await mustGetClient(store, o.id))))
}

/**
 * Deletes a client: its opaque tokens go with it, and a `client` revocation covers the JWTs it still
 * holds until the longest of them would have expired.
 */
export async function deleteClient(o: { db?: string; id: string }): Promise<void> {
  await withStore(o.db, async (store) => {
    const client = await mustGetClient(store, o.id)
    const at = now()
    // One transaction: the client, its opaque tokens and sessions go, and the event is appended.
    await store.deleteClient(client.clientId, {
      kind: 'client',
      value: client.clientId,
      clientId: client.clientId,
      createdAt: at,
      expiresAt: at + client.accessTokenTtl,
    })
    printJSON({ client_id: client.clientId, deleted: true })
  })
}

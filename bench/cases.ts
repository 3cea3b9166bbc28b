/**
 * What the benchmark loads: the clients it registers through Latchkey's real CLI, the endpoint cases
 * of each system (Latchkey on an engine, on one node or several, and the oidc-provider reference),
 * and the checks that one request of each kind returns a real answer (a JWT that verifies against
 * the system's JWKS, an introspection with `active: true`) before the case is loaded and again after.
 */
import {
  basic,
  FORM,
  GATEWAY_AUDIENCE,
  GATEWAY_CLIENT,
  JWT_CLIENT,
  OPAQUE_CLIENT,
  REFERENCE,
  RESOURCE_SERVER,
  SECRET,
  USER,
  WEB_CLIENT,
  WEB_REDIRECT,
} from './clients.js'
import { gatewayAvailable, gatewayCase, GATEWAY_TITLES } from './gateway.js'
import { dpopProofSource } from './dpop_proofs.js'
import type { Harness } from './harness.js'
import { checkTokenResponse, postForJSON, postForm } from './checks.js'
import type { LoadTarget } from './load.js'
import { createSessionPool, type SessionPool } from './sessions.js'

export type CaseId =
  | 'token-jwt'
  | 'token-dpop'
  | 'token-opaque'
  | 'introspect-opaque'
  | 'introspect-jwt'
  | 'refresh'
  | 'gateway-phantom'
  | 'gateway-introspect'
export const CASE_IDS: readonly CaseId[] = [
  'token-jwt',
  'token-dpop',
  'token-opaque',
  'introspect-opaque',
  'introspect-jwt',
  'refresh',
  'gateway-phantom',
  'gateway-introspect',
]

export const CASE_TITLES: Record<CaseId, string> = {
  'token-jwt': 'POST /token client_credentials → JWT (ES256)',
  'token-dpop':
    'POST /token client_credentials + DPoP proof (ES256, a fresh one per request) → bound JWT',
  'token-opaque': 'POST /token client_credentials → opaque',
  'introspect-opaque': 'introspection of an opaque token (active)',
  'introspect-jwt': 'introspection of a JWT (active)',
  refresh: 'POST /token refresh_token (rotating)',
  ...GATEWAY_TITLES,
}

export interface BenchCase {
  id: CaseId
  /**
   * Before the warm-up: checks one real request on every node, returns what to load, one target per
   * node (the load is split evenly between them).
   */
  prepare(): Promise<LoadTarget[]>
  /** After the measured runs: the same check again (the server still answers correctly). */
  check(): Promise<void>
}

/** A case a system does not offer: `confirm()` shows the refusal is the system's, not a bug here. */
export interface UnsupportedCase {
  id: CaseId
  reason: string
  /** A few words for the chart. */
  short: string
  confirm(): Promise<void>
}

/** Where a system's (or one node's) endpoints are and how it is asked for each kind of token. */
interface System {
  baseUrl: string
  /** The `iss` of its tokens: its own base URL, or the first node's when nodes share one issuer. */
  issuer: string
  tokenPath: string
  introspectionPath: string
  /** The client_credentials request body for a token of `format`. */
  tokenBody(format: 'jwt' | 'opaque'): string
}

/**
 * Creates the database with `latchkey init` (`env`: the server's settings, so that its first key is
 * made as the server would make it), then registers the benchmark's clients and user with the
 * `latchkey` CLI, as an operator would.
 */
export async function createClients(
  harness: Harness,
  cli: string,
  db: string,
  env?: NodeJS.ProcessEnv,
): Promise<void> {
  await harness.runNode([cli, 'init', '--db', db], { env })
  const create = async (id: string, extra: string[]): Promise<void> => {
    const args = [cli, 'client', 'create', '--db', db, '--id', id, '--secret', SECRET]
    const out = await harness.runNode([...args, '--scope', 'read', ...extra])
    const printed = JSON.parse(out) as { client_id?: unknown }
    if (printed.client_id !== id)
      throw new Error(`client create printed an unexpected answer: ${out}`)
  }
  await create(JWT_CLIENT, ['--grant', 'client_credentials'])
  const userCreated = async (): Promise<void> => {
    const out = await harness.runNode(
      [cli, 'user', 'create', '--db', db, '--username', USER.username],
      { input: `${USER.password}\n` },
    )
    if (typeof (JSON.parse(out) as { id?: unknown }).id !== 'string') {
      throw new Error(`user create printed an unexpected answer: ${out}`)
    }
  }
  await Promise.all([
    create(OPAQUE_CLIENT, ['--grant', 'client_credentials', '--access-token-format', 'opaque']),
    create(RESOURCE_SERVER, ['--grant', 'client_credentials', '--resource-server']),
    create(GATEWAY_CLIENT, [
      ...['--grant', 'client_credentials', '--resource-server', '--audience', GATEWAY_AUDIENCE],
    ]),
    create(WEB_CLIENT, [
      ...['--grant', 'authorization_code', '--grant', 'refresh_token'],
      ...['--redirect-uri', WEB_REDIRECT],
    ]),
    userCreated(),
  ])
}

async function fetchToken(system: System, clientId: string, format: 'jwt' | 'opaque') {
  const json = await postForJSON(
    system.baseUrl + system.tokenPath,
    clientId,
    system.tokenBody(format),
  )
  return checkTokenResponse(system.baseUrl, json, format, system.issuer).catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error)
    throw new Error(`token endpoint ${system.baseUrl} (${clientId}, ${format}): ${reason}`)
  })
}

/** Introspects `token` as the resource server and requires `active: true` for `clientId`'s token. */
async function checkIntrospection(system: System, token: string, clientId: string) {
  const json = await postForJSON(
    system.baseUrl + system.introspectionPath,
    RESOURCE_SERVER,
    `token=${encodeURIComponent(token)}`,
  )
  if (json.active !== true || json.client_id !== clientId) {
    throw new Error(
      `introspection of a ${clientId} token at ${system.baseUrl}: ${JSON.stringify(json)}`,
    )
  }
}

/** Each node issues a token; every answer is checked. */
function tokenCase(nodes: System[], id: CaseId, clientId: string, format: 'jwt' | 'opaque') {
  const checkEveryNode = async (): Promise<void> => {
    for (const node of nodes) await fetchToken(node, clientId, format)
  }
  return {
    id,
    async prepare(): Promise<LoadTarget[]> {
      await checkEveryNode()
      const prefix = format === 'jwt' ? '{"access_token":"eyJ' : '{"access_token":"'
      return nodes.map((node) => ({
        id,
        title: CASE_TITLES[id],
        url: node.baseUrl + node.tokenPath,
        headers: { authorization: basic(clientId), 'content-type': FORM },
        body: node.tokenBody(format),
        verifyBody: (body) => body.startsWith(prefix),
      }))
    },
    check: checkEveryNode,
  } satisfies BenchCase
}

/**
 * Client credentials with a DPoP proof (RFC 9449 §5): every request carries a proof of its own, signed
 * in the load generator (`dpop_proofs.ts`) for the issuer's token endpoint; each answer must be a
 * bound JWT (`token_type` DPoP). One key per node's load.
 */
function dpopTokenCase(nodes: System[]) {
  const id: CaseId = 'token-dpop'
  const htu = (node: System): string => node.issuer + node.tokenPath
  const checkEveryNode = async (): Promise<void> => {
    for (const node of nodes) {
      const proofs = dpopProofSource(htu(node))
      const { status, text } = await postForm(
        node.baseUrl + node.tokenPath,
        JWT_CLIENT,
        node.tokenBody('jwt'),
        { dpop: proofs.next() },
      )
      const json = JSON.parse(text) as Record<string, unknown>
      if (status !== 200 || json.token_type !== 'DPoP' || typeof json.access_token !== 'string') {
        throw new Error(`token-dpop at ${node.baseUrl}: ${status} ${text}`)
      }
      const claims = JSON.parse(
        Buffer.from(json.access_token.split('.')[1] ?? '', 'base64url').toString(),
      ) as { cnf?: { jkt?: unknown } }
      if (typeof claims.cnf?.jkt !== 'string') throw new Error('token-dpop: the JWT has no cnf.jkt')
    }
  }
  return {
    id,
    async prepare(): Promise<LoadTarget[]> {
      await checkEveryNode()
      return nodes.map((node) => {
        const proofs = dpopProofSource(htu(node))
        const body = node.tokenBody('jwt')
        return {
          id,
          title: CASE_TITLES[id],
          url: node.baseUrl + node.tokenPath,
          headers: { authorization: basic(JWT_CLIENT), 'content-type': FORM },
          body,
          verifyBody: (answer) =>
            answer.startsWith('{"access_token":"eyJ') && answer.includes('"token_type":"DPoP"'),
          dynamic: {
            next: () => body,
            answered: () => {},
            headers: () => ({ dpop: proofs.next() }),
          },
        }
      })
    },
    check: checkEveryNode,
  } satisfies BenchCase
}

/**
 * Each node issues a token, and every token is introspected on every node before and after the
 * load. With several nodes, each node's load introspects the token the next node issued (node 2's
 * load, node 1's token; node 1's, node 2's): every request reads what another node wrote.
 */
function introspectionCase(
  nodes: System[],
  id: CaseId,
  clientId: string,
  format: 'jwt' | 'opaque',
) {
  let tokens: string[] = []
  const checkEveryNode = async (): Promise<void> => {
    for (const node of nodes) {
      for (const token of tokens) await checkIntrospection(node, token, clientId)
    }
  }
  return {
    id,
    async prepare(): Promise<LoadTarget[]> {
      tokens = []
      for (const node of nodes) tokens.push(await fetchToken(node, clientId, format))
      await checkEveryNode()
      return nodes.map((node, i) => ({
        id,
        title: CASE_TITLES[id],
        url: node.baseUrl + node.introspectionPath,
        headers: { authorization: basic(RESOURCE_SERVER), 'content-type': FORM },
        body: `token=${encodeURIComponent(tokens[(i + 1) % tokens.length] ?? '')}`,
        verifyBody: (body) => body.startsWith('{"active":true'),
      }))
    },
    check: checkEveryNode,
  } satisfies BenchCase
}

/**
 * Latchkey's cases against the server at `baseUrls` (one URL per node; the first node's is the
 * issuer of all). The refresh case, offered on one node only, logs `sessions` sessions in first (see
 * `sessions.ts`); the gateway cases (`gateway.ts`), one node too, start NGINX and an API with `harness`.
 */
export function latchkeyCases(
  baseUrls: readonly string[],
  sessions: number,
  harness?: Harness,
): BenchCase[] {
  const [baseUrl] = baseUrls
  if (baseUrl === undefined) throw new Error('no node to load')
  const nodes: System[] = baseUrls.map((url) => ({
    baseUrl: url,
    issuer: baseUrl,
    tokenPath: '/token',
    introspectionPath: '/introspect',
    tokenBody: () => 'grant_type=client_credentials&scope=read',
  }))
  let pool: SessionPool | undefined
  const refreshCase: BenchCase & { readonly pool: SessionPool | undefined } = {
    id: 'refresh',
    get pool() {
      return pool
    },
    async prepare() {
      pool = await createSessionPool(baseUrl, sessions)
      await pool.check()
      return [
        {
          id: 'refresh',
          title: CASE_TITLES.refresh,
          url: `${baseUrl}/token`,
          headers: { authorization: basic(WEB_CLIENT), 'content-type': FORM },
          body: pool.next(),
          verifyBody: (body) =>
            body.startsWith('{"access_token":"eyJ') && body.includes('"refresh_token"'),
          dynamic: pool,
        },
      ]
    },
    async check() {
      if (!pool) throw new Error('refresh: no session pool')
      await pool.check()
    },
  }
  return [
    tokenCase(nodes, 'token-jwt', JWT_CLIENT, 'jwt'),
    dpopTokenCase(nodes),
    tokenCase(nodes, 'token-opaque', OPAQUE_CLIENT, 'opaque'),
    introspectionCase(nodes, 'introspect-opaque', OPAQUE_CLIENT, 'opaque'),
    introspectionCase(nodes, 'introspect-jwt', JWT_CLIENT, 'jwt'),
    ...(nodes.length === 1 ? [refreshCase] : []),
    // One node, and only where NGINX is installed (`.ci/run` installs it).
    ...(nodes.length === 1 && harness && gatewayAvailable()
      ? [
          gatewayCase(harness, baseUrl, 'gateway-phantom'),
          gatewayCase(harness, baseUrl, 'gateway-introspect'),
        ]
      : []),
  ]
}

/**
 * The reference's cases (`reference_server.ts`): the same clients, each asking for its resource
 * (RFC 8707 `resource`), which sets the token format. It has no JWT introspection (it refuses it) and
 * no refresh case (its client_credentials set-up has no users).
 */
export function referenceCases(baseUrl: string): {
  cases: BenchCase[]
  unsupported: UnsupportedCase[]
} {
  const system: System = {
    baseUrl,
    issuer: baseUrl,
    tokenPath: REFERENCE.tokenPath,
    introspectionPath: REFERENCE.introspectionPath,
    tokenBody: (format) =>
      'grant_type=client_credentials&scope=read&resource=' +
      encodeURIComponent(format === 'jwt' ? REFERENCE.jwtResource : REFERENCE.opaqueResource),
  }
  const jwtIntrospection: UnsupportedCase = {
    id: 'introspect-jwt',
    reason:
      'oidc-provider refuses to introspect its JWT access tokens (400 unsupported_token_type)',
    short: 'n/a: refuses to introspect JWTs',
    async confirm() {
      const token = await fetchToken(system, JWT_CLIENT, 'jwt')
      const { status, text } = await postForm(
        baseUrl + REFERENCE.introspectionPath,
        RESOURCE_SERVER,
        `token=${encodeURIComponent(token)}`,
      )
      if (status !== 400 || !text.includes('unsupported_token_type')) {
        throw new Error(`reference: JWT introspection answered ${status} ${text}, not a refusal`)
      }
    },
  }
  return {
    cases: [
      tokenCase([system], 'token-jwt', JWT_CLIENT, 'jwt'),
      tokenCase([system], 'token-opaque', OPAQUE_CLIENT, 'opaque'),
      introspectionCase([system], 'introspect-opaque', OPAQUE_CLIENT, 'opaque'),
    ],
    unsupported: [
      jwtIntrospection,
      {
        id: 'token-dpop',
        reason: 'not configured: the reference is set up without DPoP',
        short: 'n/a: not set up (no DPoP)',
        confirm: () => Promise.resolve(),
      },
      {
        id: 'refresh',
        reason: 'not configured: the reference is set up for client_credentials only (no users)',
        short: 'n/a: not set up (no users)',
        confirm: () => Promise.resolve(),
      },
    ],
  }
}

/**
 * A load of requests the reference must refuse (a wrong client secret): run through the same path as
 * the real cases, it must come out FAILED, proving a non-2xx answer is never counted as a rate.
 */
export function wrongSecretTarget(baseUrl: string): LoadTarget {
  return {
    id: 'negative-control',
    title: 'reference, wrong client secret (must fail)',
    url: baseUrl + REFERENCE.tokenPath,
    headers: {
      authorization: `Basic ${Buffer.from(`${JWT_CLIENT}:not-the-secret-0123456789`).toString('base64')}`,
      'content-type': FORM,
    },
    body: 'grant_type=client_credentials&scope=read',
  }
}

/** The bare `node:http` floor, loaded with the same request as opaque introspection. */
export function bareHttpTarget(url: string): LoadTarget {
  return {
    id: 'bare-http',
    title: 'bare node:http, POST form → small JSON',
    url,
    headers: { authorization: basic(RESOURCE_SERVER), 'content-type': FORM },
    body: `token=${'A'.repeat(43)}`,
    verifyBody: (body) => body.startsWith('{"active":true'),
  }
}

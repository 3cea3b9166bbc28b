/**
 * Phantom tokens through the real NGINX (Debian's package, auth_request), started from the repository's
 * template (`examples/nginx/phantom.conf.template`, rendered with envsubst): callers hold opaque tokens,
 * the API behind NGINX receives JWTs it verifies with `latchkey/verifier`, and a revocation at Latchkey
 * is refused through NGINX within a measured bound.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createVerifier, type Verifier } from '../../src/verifier/index.js'
import { authorize, Browser, pkce } from '../helpers/browser.js'
import { haveNginx, startNginx, type RunningNginx } from '../helpers/nginx.js'
import {
  cli,
  createClient,
  createUser,
  request,
  sleep,
  startServer,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const API = 'https://orders.example'
const REDIRECT = 'https://app.example/callback'
const USER = { username: 'phantom-user', password: 'correct horse battery staple' }

interface Seen {
  authorization: string | undefined
  claims?: Record<string, unknown>
}

/** What a gateway test wants to know of one answer through NGINX. */
interface Through {
  res: HttpResponse
  /** What the upstream received for this request, if NGINX forwarded it. */
  seen: Seen | undefined
}

const nginxPresent = haveNginx()

describe(
  'phantom tokens through NGINX (auth_request)',
  { skip: !nginxPresent && 'no nginx' },
  () => {
    let server: TestServer
    let gateway: CreatedClient
    let app: CreatedClient
    let web: CreatedClient
    let jwtApp: CreatedClient
    let nginx: RunningNginx
    let wrongNginx: RunningNginx
    let upstream: Server
    let verifier: Verifier
    /** Every request the upstream API received, by the test's request id. */
    const seen = new Map<string, Seen>()
    /** Every opaque token handed to a caller: none may reach the upstream. */
    const opaqueTokens: string[] = []
    /** Every JWT the upstream received: none may reach a caller. */
    const forwarded = new Set<string>()
    const answers: HttpResponse[] = []
    let expiring: string
    let nextId = 0

    before(async () => {
      server = await startServer()
      gateway = createClient(
        server.db,
        'orders-gateway',
        ...['--grant', 'client_credentials', '--resource-server', '--audience', API],
      )
      app = createClient(
        server.db,
        'app',
        ...['--grant', 'client_credentials', '--access-token-format', 'opaque', '--scope', 'read'],
      )
      createClient(
        server.db,
        'short',
        ...['--grant', 'client_credentials', '--access-token-format', 'opaque'],
        ...['--access-token-ttl', '1', '--secret', 'short-lived-secret-0123456789'],
      )
      web = createClient(
        server.db,
        'web',
        ...[
          '--grant',
          'authorization_code',
          '--grant',
          'refresh_token',
          '--redirect-uri',
          REDIRECT,
        ],
        ...['--access-token-format', 'opaque'],
      )
      jwtApp = createClient(server.db, 'jwt-app', '--grant', 'client_credentials')
      createUser(server.db, USER)

      // The API behind the gateway: verifies the forwarded JWT with the SDK and says what it saw (never
      // the token itself).
      verifier = createVerifier({
        issuer: server.url,
        audience: API,
        clientId: gateway.client_id,
        clientSecret: gateway.client_secret,
        pollInterval: 0.05,
      })
      await verifier.ready(15_000)
      upstream = createServer((req, res) => {
        const id = String(req.headers['x-test-id'] ?? '')
        const authorization = req.headers.authorization
        const record: Seen = { authorization }
        seen.set(id, record)
        const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1] ?? ''
        forwarded.add(token)
        const refuse = (): void => {
          res.writeHead(401, { 'content-type': 'application/json' })
          res.end('{"upstream":"refused"}')
        }
        // The API takes JWTs only: an opaque token reaching it is a failure of the gateway.
        if (!token.includes('.')) return refuse()
        verifier.verify(token).then((claims) => {
          record.claims = claims
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ sub: claims.sub, sid: claims.sid ?? null, aud: claims.aud }))
        }, refuse)
      })
      await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
      const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
      const values = {
        UPSTREAM_URL: upstreamUrl,
        LATCHKEY_URL: server.url,
        GATEWAY_CLIENT_ID: gateway.client_id,
      }
      nginx = await startNginx({ ...values, GATEWAY_CLIENT_SECRET: gateway.client_secret })
      wrongNginx = await startNginx({
        ...values,
        GATEWAY_CLIENT_SECRET: 'not-the-gateway-secret-0123',
      })
      // Expires while the other tests run.
      expiring = await tokenFor(['short', 'short-lived-secret-0123456789'])
    })

    after(async () => {
      await nginx?.stop()
      await wrongNginx?.stop()
      verifier?.close()
      await new Promise((r) => upstream?.close(r))
      await server.dispose()
      // The caller never saw a JWT; the API never saw an opaque token.
      for (const res of answers) {
        const visible = JSON.stringify(res.headers) + res.text
        for (const jwt of forwarded) if (jwt !== '') assert.ok(!visible.includes(jwt))
        assert.ok(!/eyJ[\w-]+\.eyJ/.test(visible), 'a JWT reached the caller')
      }
      for (const token of opaqueTokens)
        assert.ok(!forwarded.has(token), 'the upstream saw an opaque token')
    })

    async function tokenFor([id, secret]: [string, string]): Promise<string> {
      const res = await server.post('/token', { grant_type: 'client_credentials' }, [id, secret])
      assert.equal(res.status, 200, res.text)
      const token = res.json.access_token as string
      assert.ok(!token.includes('.'), 'an opaque token')
      opaqueTokens.push(token)
      return token
    }
    const appToken = (): Promise<string> => tokenFor([app.client_id, app.client_secret])

    /** One request through `via` (the working gateway by default) with `authorization`, if any. */
    async function through(authorization?: string, via: RunningNginx = nginx): Promise<Through> {
      const id = String(++nextId)
      const headers: Record<string, string> = { 'x-test-id': id }
      if (authorization !== undefined) headers.authorization = authorization
      const res = await request(`${via.url}/orders/42`, { headers })
      answers.push(res)
      return { res, seen: seen.get(id) }
    }

    function payloadOf(jwt: string): Record<string, unknown> {
      return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<
        string,
        unknown
      >
    }

    async function introspect(token: string): Promise<Record<string, unknown>> {
      const res = await server.post('/introspect', { token }, [
        gateway.client_id,
        gateway.client_secret,
      ])
      return res.json
    }

    /** Polls (generous deadline) until NGINX refuses `token`; returns that answer. */
    async function untilRefused(token: string, deadlineMs = 5_000): Promise<HttpResponse> {
      const deadline = Date.now() + deadlineMs
      for (;;) {
        const { res, seen: s } = await through(`Bearer ${token}`)
        if (res.status !== 200 && s === undefined) return res
        if (res.status !== 200) {
          // The API's SDK heard of the revocation before the gateway's node did and refused the
          // phantom JWT itself: refused, but not yet by the gateway, which is what this waits for.
          assert.equal(res.status, 401, 'refused by the API')
        }
        assert.ok(Date.now() < deadline, 'still accepted through NGINX')
        await sleep(10)
      }
    }

    /** Polls until the SDK refuses `jwt` (it follows the revocation feed). */
    async function untilVerifierRefuses(jwt: string): Promise<void> {
      const deadline = Date.now() + 5_000
      for (;;) {
        const refused = await verifier.verify(jwt).then(
          () => false,
          (err: { code?: string }) => err.code === 'invalid_token',
        )
        if (refused) return
        assert.ok(Date.now() < deadline, 'the verifier still accepts the revoked JWT')
        await sleep(20)
      }
    }

    /** A valid request; returns the JWT the upstream received. */
    async function accepted(token: string): Promise<string> {
      const { res, seen: s } = await through(`Bearer ${token}`)
      assert.equal(res.status, 200, res.text)
      assert.ok(s?.claims, 'the upstream verified a JWT')
      return /^Bearer (.+)$/.exec(s.authorization!)![1]!
    }

    /** Logs the user in with `web` (opaque access token); returns its tokens. */
    async function login(): Promise<{ access_token: string; refresh_token: string }> {
      const p = pkce()
      const landed = await authorize(
        new Browser(server.url),
        { clientId: web.client_id, redirectUri: REDIRECT, challenge: p.challenge },
        USER,
      )
      const res = await server.post(
        '/token',
        {
          grant_type: 'authorization_code',
          code: landed.searchParams.get('code')!,
          code_verifier: p.verifier,
          redirect_uri: REDIRECT,
        },
        [web.client_id, web.client_secret],
      )
      assert.equal(res.status, 200, res.text)
      const tokens = res.json as { access_token: string; refresh_token: string }
      opaqueTokens.push(tokens.access_token)
      return tokens
    }

    it('forwards a valid opaque token as an RFC 9068 JWT for the API, which verifies it', async () => {
      const token = await appToken()
      const { res, seen: s } = await through(`Bearer ${token}`)
      assert.equal(res.status, 200, res.text)
      assert.deepEqual(res.json, { sub: 'app', sid: null, aud: API })
      const jwt = /^Bearer (.+)$/.exec(s!.authorization!)![1]!
      const header = JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as {
        typ: string
      }
      assert.equal(header.typ, 'at+jwt')
      const claims = payloadOf(jwt)
      const opaque = await introspect(token)
      assert.equal(opaque.active, true)
      assert.equal(claims.aud, API)
      assert.equal(claims.iss, server.url)
      assert.equal(claims.sub, 'app')
      assert.equal(claims.client_id, 'app')
      assert.equal(claims.scope, 'read')
      assert.equal(claims.jti, opaque.jti, 'the JWT carries the opaque token id')
      assert.ok((claims.exp as number) <= (opaque.exp as number))
      assert.ok((claims.exp as number) - (claims.iat as number) <= 120)
      // Asked again, Latchkey answers the same JWT from its cache.
      assert.equal(await accepted(token), jwt)
    })

    it('refuses a missing, unknown or malformed token with 401 and a Bearer challenge', async () => {
      const none = await through()
      assert.equal(none.res.status, 401)
      assert.match(String(none.res.headers['www-authenticate']), /^Bearer realm="[^"]+"$/)
      assert.equal(none.seen, undefined)
      const basicAuth = await through('Basic YXBwOnNlY3JldA==')
      assert.equal(basicAuth.res.status, 401)
      for (const authorization of [
        'Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        'Bearer not a token',
        'Bearer %%%',
      ]) {
        const { res, seen: s } = await through(authorization)
        assert.equal(res.status, 401, authorization)
        assert.match(String(res.headers['www-authenticate']), /^Bearer .*error="invalid_token"/)
        assert.equal(s, undefined)
      }
    })

    it('refuses a JWT presented instead of an opaque token', async () => {
      const issued = await server.post('/token', { grant_type: 'client_credentials' }, [
        jwtApp.client_id,
        jwtApp.client_secret,
      ])
      const jwt = issued.json.access_token as string
      assert.ok(jwt.includes('.'))
      const { res, seen: s } = await through(`Bearer ${jwt}`)
      assert.equal(res.status, 401)
      assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/)
      assert.equal(s, undefined)
      // A forwarded JWT replayed as the caller's token is refused the same way.
      const forwardedJwt = await accepted(await appToken())
      assert.equal((await through(`Bearer ${forwardedJwt}`)).res.status, 401)
    })

    it('refuses an expired token', async () => {
      const res = await untilRefused(expiring)
      assert.equal(res.status, 401)
      assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/)
    })

    it('never answers 200 through a gateway with wrong credentials: 500, the upstream untouched', async () => {
      const token = await appToken()
      const { res, seen: s } = await through(`Bearer ${token}`, wrongNginx)
      assert.equal(res.status, 500)
      assert.equal(s, undefined)
      assert.equal(res.headers['www-authenticate'], undefined)
      // Latchkey's own answer to that gateway: 502, not a 401 that would blame the caller's token.
      const direct = await request(`${server.url}/phantom`, {
        headers: {
          authorization: `Bearer ${token}`,
          'latchkey-gateway-client-id': gateway.client_id,
          'latchkey-gateway-client-secret': 'not-the-gateway-secret-0123',
        },
      })
      assert.equal(direct.status, 502)
      assert.equal(direct.json.error, 'invalid_client')
      assert.equal(direct.headers.authorization, undefined)
      // A client that is not a resource server is no gateway either.
      const notGateway = await request(`${server.url}/phantom`, {
        headers: {
          authorization: `Bearer ${token}`,
          'latchkey-gateway-client-id': app.client_id,
          'latchkey-gateway-client-secret': app.client_secret,
        },
      })
      assert.equal(notGateway.status, 502)
      assert.equal(notGateway.json.error, 'unauthorized_client')
    })

    it("answers a gateway directly: any method, body and path below /phantom; only this API's opaque access tokens", async () => {
      const token = await appToken()
      const gatewayHeaders = {
        'latchkey-gateway-client-id': gateway.client_id,
        'latchkey-gateway-client-secret': gateway.client_secret,
      }
      // Envoy forwards the caller's method, path and Content-Type; the body is not read.
      const post = await request(`${server.url}/phantom/orders/42?x=1`, {
        method: 'POST',
        headers: {
          ...gatewayHeaders,
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
        },
        body: '{"order":42}',
      })
      assert.equal(post.status, 200, post.text)
      assert.equal(post.headers['cache-control'], 'no-store')
      assert.match(String(post.headers.authorization), /^Bearer eyJ/)
      // HTTP Basic in the gateway's own header works as well.
      const basicHeader = `Basic ${Buffer.from(`${gateway.client_id}:${gateway.client_secret}`).toString('base64')}`
      const viaBasic = await request(`${server.url}/phantom`, {
        headers: {
          'latchkey-gateway-authorization': basicHeader,
          authorization: `Bearer ${token}`,
        },
      })
      assert.equal(viaBasic.status, 200, viaBasic.text)
      // A refresh token is no access token.
      const tokens = await login()
      const refresh = await request(`${server.url}/phantom`, {
        headers: { ...gatewayHeaders, authorization: `Bearer ${tokens.refresh_token}` },
      })
      assert.equal(refresh.status, 401)
      // A token addressed to another API is not re-addressed to this one.
      const elsewhere = createClient(
        server.db,
        'elsewhere',
        ...['--grant', 'client_credentials', '--access-token-format', 'opaque'],
        ...['--audience', 'https://ledger.example'],
      )
      const foreign = await tokenFor([elsewhere.client_id, elsewhere.client_secret])
      const { res, seen: s } = await through(`Bearer ${foreign}`)
      assert.equal(res.status, 401)
      assert.match(String(res.headers['www-authenticate']), /not for this API/)
      assert.equal(s, undefined)
      // A resource server without an audience is no gateway.
      const bare = createClient(
        server.db,
        'no-audience',
        '--grant',
        'client_credentials',
        '--resource-server',
      )
      const noAudience = await request(`${server.url}/phantom`, {
        headers: {
          'latchkey-gateway-client-id': bare.client_id,
          'latchkey-gateway-client-secret': bare.client_secret,
          authorization: `Bearer ${token}`,
        },
      })
      assert.equal(noAudience.status, 502)
      const metadata = await server.get('/.well-known/oauth-authorization-server')
      assert.equal(metadata.json.latchkey_phantom_endpoint, `${server.url}/phantom`)
    })

    it('refuses a token revoked by /revoke, and the SDK refuses its JWT', async () => {
      const token = await appToken()
      const jwt = await accepted(token)
      const revoked = await server.post('/revoke', { token }, [app.client_id, app.client_secret])
      assert.equal(revoked.status, 200)
      const { res } = await through(`Bearer ${token}`)
      assert.equal(res.status, 401, 'refused on the first request after the acknowledgement')
      assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/)
      await untilVerifierRefuses(jwt)
    })

    it('refuses a token whose session is revoked by the CLI, and the SDK refuses its JWT', async () => {
      const tokens = await login()
      const jwt = await accepted(tokens.access_token)
      const sid = payloadOf(jwt).sid as string
      assert.ok(sid, 'the JWT carries the session')
      const res = cli(['session', 'revoke', '--db', server.db, '--id', sid])
      assert.equal(res.status, 0, res.stderr)
      assert.equal((await untilRefused(tokens.access_token)).status, 401)
      await untilVerifierRefuses(jwt)
    })

    it('refuses a token whose client is deleted by the CLI, and the SDK refuses its JWT', async () => {
      const doomed = createClient(
        server.db,
        'doomed',
        ...['--grant', 'client_credentials', '--access-token-format', 'opaque'],
      )
      const token = await tokenFor([doomed.client_id, doomed.client_secret])
      const jwt = await accepted(token)
      const res = cli(['client', 'delete', '--db', server.db, '--id', 'doomed'])
      assert.equal(res.status, 0, res.stderr)
      assert.equal((await untilRefused(token)).status, 401)
      await untilVerifierRefuses(jwt)
    })

    it('refuses revoked tokens through NGINX within p99 ≤ 100 ms of the acknowledgement', async () => {
      /** Milliseconds from `ack` (the revocation acknowledged) to the first 401 through NGINX. */
      async function refusedAfter(
        token: string,
        revoke: () => Promise<void> | void,
      ): Promise<number> {
        await accepted(token)
        await revoke()
        const ack = performance.now()
        const deadline = Date.now() + 5_000
        for (;;) {
          const { res } = await through(`Bearer ${token}`)
          if (res.status === 401) return performance.now() - ack
          assert.equal(res.status, 200)
          assert.ok(Date.now() < deadline, 'still accepted after 5 s')
        }
      }
      const byKind: Record<string, number[]> = { revoke: [], session: [], client: [] }
      // By /revoke on the node the gateway asks.
      for (let i = 0; i < 94; i++) {
        const token = await appToken()
        byKind.revoke!.push(
          await refusedAfter(token, async () => {
            const res = await server.post('/revoke', { token }, [app.client_id, app.client_secret])
            assert.equal(res.status, 200)
          }),
        )
      }
      // By another process (the CLI) writing the store: this node's follower must read the event.
      for (let i = 0; i < 4; i++) {
        const tokens = await login()
        const sid = (await introspect(tokens.access_token)).sid as string
        byKind.session!.push(
          await refusedAfter(tokens.access_token, () => {
            const res = cli(['session', 'revoke', '--db', server.db, '--id', sid])
            assert.equal(res.status, 0, res.stderr)
          }),
        )
      }
      for (let i = 0; i < 2; i++) {
        const c = createClient(
          server.db,
          `bound-${i}`,
          ...['--grant', 'client_credentials', '--access-token-format', 'opaque'],
        )
        const token = await tokenFor([c.client_id, c.client_secret])
        byKind.client!.push(
          await refusedAfter(token, () => {
            const res = cli(['client', 'delete', '--db', server.db, '--id', c.client_id])
            assert.equal(res.status, 0, res.stderr)
          }),
        )
      }
      const all = Object.values(byKind).flat()
      const q = (xs: number[], p: number): number => {
        const sorted = [...xs].sort((a, b) => a - b)
        return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!
      }
      const summary = Object.fromEntries(
        Object.entries(byKind).map(([kind, xs]) => [
          kind,
          { n: xs.length, p50: +q(xs, 0.5).toFixed(1), max: +q(xs, 1).toFixed(1) },
        ]),
      )
      console.log(
        `revoke-ack → first 401 through NGINX: n=${all.length} p50=${q(all, 0.5).toFixed(1)} ms ` +
          `p99=${q(all, 0.99).toFixed(1)} ms ${JSON.stringify(summary)}`,
      )
      assert.ok(q(all, 0.99) <= 100, `p99 ${q(all, 0.99).toFixed(1)} ms`)
    })
  },
)

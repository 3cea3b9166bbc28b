/**
 * Fuzzing a running server over raw HTTP: a bounded number of random requests (fixed seed in `npm
 * test`, `LATCHKEY_FUZZ_RUNS` for more) to the token, introspection, revocation, authorization
 * (GET and POST) and revocation-feed endpoints, with random methods, queries, bodies and headers,
 * some of them valid enough to reach the grants and the token lookups. No answer may be a 5xx, every
 * request gets an answer, and the server stays up and healthy.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { fuzzParameters } from '../helpers/fuzz.js'
import { rawRequest } from '../helpers/raw_http.js'
import {
  basic,
  createClient,
  createUser,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

const FORM = 'application/x-www-form-urlencoded'
const REDIRECT = 'http://127.0.0.1:9/callback'

describe('fuzzing the endpoints of a running server', () => {
  let server: TestServer
  let app: CreatedClient
  let web: CreatedClient
  let api: CreatedClient
  let genuine: string

  before(async () => {
    server = await startServer({
      env: {
        LATCHKEY_AUTH_FAILURES_PER_ADDRESS: '100000',
        LATCHKEY_AUTH_FAILURES_PER_CLIENT: '100000',
      },
    })
    app = createClient(server.db, 'app', '--grant', 'client_credentials', '--scope', 'read write')
    web = createClient(
      server.db,
      'web',
      ...['--grant', 'authorization_code', '--grant', 'refresh_token', '--redirect-uri', REDIRECT],
    )
    api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    createUser(server.db, { username: 'fuzz', password: 'correct horse battery staple' })
    const res = await server.post('/token', { grant_type: 'client_credentials' }, [
      app.client_id,
      app.client_secret,
    ])
    assert.equal(res.status, 200, res.text)
    genuine = (res.json as { access_token: string }).access_token
  })

  after(async () => {
    await server?.dispose()
  })

  it('answers random requests to every endpoint without a 5xx and stays up', async () => {
    const junk = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.constantFrom(
        '',
        '%',
        '%ff',
        '%00',
        '\u202e',
        '__proto__',
        'a'.repeat(300),
        '../../etc/passwd',
      ),
    )
    const value = fc.oneof(
      junk,
      fc.constantFrom(
        'client_credentials',
        'authorization_code',
        'refresh_token',
        'code',
        'S256',
        'read',
        'read write',
        'app',
        'web',
        REDIRECT,
      ),
      fc.constant(null).map(() => genuine),
      fc.constant(null).map(() => genuine.slice(0, -2)),
    )
    const name = fc.oneof(
      fc.constantFrom(
        'grant_type',
        'client_id',
        'client_secret',
        'token',
        'token_type_hint',
        'scope',
        'code',
        'code_verifier',
        'redirect_uri',
        'refresh_token',
        'response_type',
        'state',
        'code_challenge',
        'code_challenge_method',
        'username',
        'password',
        'csrf_token',
        'prompt',
        'max_age',
        'login_hint',
        'consent_token',
        'decision',
        'after',
        'limit',
      ),
      junk,
    )
    const form = fc
      .array(fc.tuple(name, value), { maxLength: 8 })
      .map((pairs) => new URLSearchParams(pairs).toString())
    const rawBody = fc.oneof(
      form,
      junk,
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
    )
    const authorization = fc.oneof(
      fc.constant(null).map(() => basic(app.client_id, app.client_secret)),
      fc.constant(null).map(() => basic(api.client_id, api.client_secret)),
      fc.constant(null).map(() => basic(web.client_id, web.client_secret)),
      fc.constant(null).map(() => basic('app', 'wrong')),
      fc.constant(null).map(() => `Bearer ${genuine}`),
      junk.map((j) => `Basic ${Buffer.from(j).toString('base64')}`),
      junk.map((j) => `Basic ${j}`),
      junk,
    )
    const contentType = fc.oneof(
      fc.constant(FORM),
      fc.constantFrom(
        `${FORM}; charset=utf-8`,
        `${FORM}; charset=utf-16`,
        'application/json',
        'text/plain',
        'multipart/form-data; boundary=x',
        '',
      ),
      junk,
    )
    const header = fc.oneof(
      authorization.map((v) => ['Authorization', v] as const),
      contentType.map((v) => ['Content-Type', v] as const),
      junk.map((v) => ['Cookie', `latchkey_login=${v}; latchkey_csrf=${v}`] as const),
      fc.nat(1000).map((v) => ['Last-Event-ID', String(v)] as const),
      junk.map((v) => ['Accept', v] as const),
      fc.tuple(junk, junk).map(([n, v]) => [n, v] as const),
    )
    const request = fc.record({
      method: fc.constantFrom('GET', 'POST', 'POST', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'),
      path: fc.constantFrom(
        ...['/token', '/introspect', '/revoke', '/authorize', '/authorize/consent'],
        ...['/revocations', '/x'],
      ),
      query: fc.oneof(form, junk.map(encodeURIComponent)),
      headers: fc.array(header, { maxLength: 5 }),
      body: rawBody,
    })

    // Requests that get past the parser and client authentication, so the grants and lookups run.
    const plausible = fc.record({
      method: fc.constantFrom('GET', 'POST'),
      path: fc.constantFrom(
        ...['/token', '/introspect', '/revoke', '/authorize', '/authorize/consent'],
        '/revocations',
      ),
      query: fc.oneof(
        form,
        fc.constant(
          new URLSearchParams({
            response_type: 'code',
            client_id: 'web',
            redirect_uri: REDIRECT,
            code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
            code_challenge_method: 'S256',
          }).toString(),
        ),
      ),
      headers: fc
        .tuple(authorization, fc.constantFrom(FORM, `${FORM}; charset=UTF-8`))
        .map(([a, t]) => [['Authorization', a] as const, ['Content-Type', t] as const]),
      body: fc
        .tuple(
          fc.oneof(
            fc.constantFrom(
              'grant_type=client_credentials',
              'grant_type=client_credentials&scope=read',
              'grant_type=refresh_token&refresh_token=abc',
              `grant_type=authorization_code&code=abc&code_verifier=${'v'.repeat(43)}&redirect_uri=${encodeURIComponent(REDIRECT)}`,
              'token=abc',
            ),
            fc.constant(null).map(() => `token=${genuine}`),
          ),
          fc.oneof(
            fc.constant(''),
            form.map((f) => (f === '' ? '' : `&${f}`)),
          ),
        )
        .map(([base, extra]) => base + extra),
    })

    const statuses = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(fc.oneof(request, plausible), async (r) => {
        // A feed request without `after` is a stream that stays open: ask for a page instead.
        const query = r.path === '/revocations' ? `after=0&${r.query}` : r.query
        const head = [
          `${r.method} ${r.path}${query === '' ? '' : `?${query}`} HTTP/1.1`,
          `Host: 127.0.0.1:${server.port}`,
          ...r.headers.map(([n, v]) => `${n}: ${v}`),
        ]
        const body = Buffer.from(r.body, 'latin1')
        if (r.method !== 'GET' && r.method !== 'HEAD') head.push(`Content-Length: ${body.length}`)
        const res = await rawRequest(
          server.url,
          head,
          r.method === 'GET' || r.method === 'HEAD' ? '' : body,
        )
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        assert.ok(
          res.status >= 200 && res.status < 500,
          `${res.status} for ${JSON.stringify(head)}: ${res.text.slice(0, 200)}`,
        )
      }),
      fuzzParameters(200),
    )
    // The random requests reached the endpoints, not only the parser's refusals.
    assert.ok((statuses.get(200) ?? 0) > 0, JSON.stringify([...statuses]))

    const health = await server.get('/healthz')
    assert.equal(health.status, 200)
    assert.equal(server.process.exitCode, null)
    const fivexx = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { status?: unknown }).status)
      .filter((s) => typeof s === 'number' && s >= 500)
    assert.deepEqual(fivexx, [])
  })
})

/**
 * Hostile input at the token, introspection and revocation endpoints of a real server (SECURITY.md
 * "Input" and "Credentials"): every malformed request gets a fast 4xx with an RFC 6749 error code, nothing
 * injected comes back unescaped, and the server stays up.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import { formFields, pkce, authorizeQuery } from '../helpers/browser.js'
import { rawRequest, type RawResponse } from '../helpers/raw_http.js'
import {
  basic,
  createClient,
  createUser,
  request,
  startServer,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const FORM = 'application/x-www-form-urlencoded'
/** The server's default body limit (config.ts). */
const BODY_LIMIT = 16 * 1024
/** RFC 6749 §5.2 codes, plus the RFC 6750 / 7009 ones an endpoint may answer with. */
const STANDARD_CODES = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'unsupported_token_type',
])

type Json = Record<string, unknown>

const USER = { username: 'hostile-user', password: 'correct horse battery staple' }

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

describe('hostile input', () => {
  let server: TestServer
  let app: CreatedClient
  let web: CreatedClient
  let api: CreatedClient

  /** POSTs `body` as it is, a form unless `headers` say otherwise. */
  function post(
    path: string,
    body: string | Buffer,
    headers: Record<string, string> = {},
  ): Promise<HttpResponse> {
    return request(server.url + path, {
      method: 'POST',
      headers: { 'content-type': FORM, ...headers },
      body,
    })
  }

  const appAuth = (): Record<string, string> => ({
    authorization: basic(app.client_id, app.client_secret),
  })

  const apiAuth = (): Record<string, string> => ({
    authorization: basic(api.client_id, api.client_secret),
  })

  /** The status and error code of an RFC 6749 §5.2 error response. */
  function assertError(res: HttpResponse, status: number, code: string, label?: string): void {
    assert.equal(res.status, status, `${label ?? ''} ${res.text}`)
    assert.equal((res.json as Json | undefined)?.error, code, label)
    assert.match(String(res.headers['content-type']), /^application\/json/, label)
  }

  /** A request the server may answer with `status` or cut off while the client is still sending. */
  async function assertRefusedOrCut(
    send: () => Promise<HttpResponse>,
    status: number,
  ): Promise<void> {
    try {
      const res = await send()
      assert.equal(res.status, status, res.text)
      // Even what Node's HTTP parser refuses gets an RFC 6749 error body.
      assert.equal(res.json.error, 'invalid_request', res.text)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      assert.ok(code === 'ECONNRESET' || code === 'EPIPE', `unexpected error ${String(code)}`)
    }
  }

  async function assertHealthy(): Promise<void> {
    const res = await server.get('/healthz')
    assert.equal(res.status, 200)
  }

  before(async () => {
    server = await startServer({
      // Many tests fail authentication on purpose; throttling is tested in rate_limit.test.ts.
      env: {
        LATCHKEY_AUTH_FAILURES_PER_ADDRESS: '100000',
        LATCHKEY_AUTH_FAILURES_PER_CLIENT: '100000',
      },
    })
    app = createClient(server.db, 'app', '--grant', 'client_credentials', '--scope', 'read write')
    web = createClient(
      server.db,
      'web',
      '--grant',
      'authorization_code',
      '--redirect-uri',
      'http://127.0.0.1:9/callback',
    )
    api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    createUser(server.db, USER)
    // Warm up: the first verification of each secret is the slow one.
    const res = await post('/token', 'grant_type=client_credentials', appAuth())
    assert.equal(res.status, 200, res.text)
  })

  after(async () => {
    await server?.dispose()
  })

  describe('content type and size', () => {
    for (const path of ['/token', '/introspect']) {
      const form = path === '/token' ? 'grant_type=client_credentials' : 'token=abc'
      const auth = (): Record<string, string> => (path === '/token' ? appAuth() : apiAuth())

      it(`refuses a JSON body at ${path} with 400 invalid_request`, async () => {
        const body = JSON.stringify({ grant_type: 'client_credentials', token: 'abc' })
        const res = await post(path, body, { ...auth(), 'content-type': 'application/json' })
        assertError(res, 400, 'invalid_request')
      })

      it(`refuses text/plain, multipart and a missing content type at ${path} with 400`, async () => {
        for (const type of ['text/plain', 'multipart/form-data; boundary=x', undefined]) {
          const res = await request(server.url + path, {
            method: 'POST',
            headers: type === undefined ? auth() : { ...auth(), 'content-type': type },
            body: form,
          })
          assertError(res, 400, 'invalid_request', String(type))
        }
      })

      it(`refuses a 10 MB body at ${path} with 413 and stays up`, async () => {
        const body = Buffer.alloc(10 * 1024 * 1024, 'a')
        const started = performance.now()
        await assertRefusedOrCut(() => post(path, body, auth()), 413)
        assert.ok(performance.now() - started < 5000)
        await assertHealthy()
      })

      it(`refuses a body just over 16 KiB at ${path} with 413 invalid_request`, async () => {
        const body = `${form}&pad=${'a'.repeat(BODY_LIMIT)}`
        assertError(await post(path, body, auth()), 413, 'invalid_request')
      })

      it(`refuses 100k form fields at ${path} with 413`, async () => {
        const body = form + '&a=1'.repeat(100_000)
        await assertRefusedOrCut(() => post(path, body, auth()), 413)
      })

      it(`refuses 65 short fields within the body limit at ${path} with 400 invalid_request`, async () => {
        const fields = Array.from({ length: 64 }, (_, i) => `f${i}=1`)
        const body = [form, ...fields].join('&')
        assert.ok(body.length < BODY_LIMIT)
        assertError(await post(path, body, auth()), 400, 'invalid_request')
      })
    }

    it('refuses a 10 MB body announced by Content-Length with 413 before reading it', async () => {
      const body = Buffer.alloc(10 * 1024 * 1024, 'a')
      await assertRefusedOrCut(
        () => post('/token', body, { ...appAuth(), 'content-length': String(body.length) }),
        413,
      )
    })

    it('does not inflate a gzip bomb under the body limit: 400, quickly', async () => {
      // 10 MB of zeros deflates to about 10 KB, under the 16 KiB limit.
      const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024))
      assert.ok(bomb.length < BODY_LIMIT)
      const started = performance.now()
      const res = await post('/token', bomb, { ...appAuth(), 'content-encoding': 'gzip' })
      assert.ok(res.status === 400 || res.status === 415, res.text)
      assert.equal((res.json as Json).error, 'invalid_request')
      assert.ok(performance.now() - started < 2000)
    })

    it('refuses a request with both Transfer-Encoding and Content-Length with 400', async () => {
      const res = await post('/token', 'grant_type=client_credentials', {
        ...appAuth(),
        'transfer-encoding': 'chunked',
        'content-length': '5',
      })
      assert.equal(res.status, 400)
      assert.equal(res.json.error, 'invalid_request')
    })

    it('accepts a body of exactly 16 KiB and 64 fields', async () => {
      const head = 'grant_type=client_credentials&pad='
      const exact = head + 'a'.repeat(BODY_LIMIT - head.length)
      assert.equal(Buffer.byteLength(exact), BODY_LIMIT)
      assert.equal((await post('/token', exact, appAuth())).status, 200)
      const fields = Array.from({ length: 63 }, (_, i) => `f${i}=1`)
      const sixtyFour = ['grant_type=client_credentials', ...fields].join('&')
      assert.equal((await post('/token', sixtyFour, appAuth())).status, 200)
    })

    it('is still healthy afterwards', assertHealthy)
  })

  describe('parameters', () => {
    it('refuses a repeated parameter with 400 invalid_request', async () => {
      const bodies = [
        'grant_type=client_credentials&grant_type=client_credentials',
        'grant_type=client_credentials&grant_type=password',
        'grant_type=client_credentials&scope=read&scope=write',
      ]
      for (const body of bodies) {
        assertError(await post('/token', body, appAuth()), 400, 'invalid_request', body)
      }
      const token = 'token=a&token=b'
      assertError(await post('/introspect', token, apiAuth()), 400, 'invalid_request', token)
      const ids = `grant_type=client_credentials&client_id=app&client_id=app&client_secret=${app.client_secret}`
      assertError(await post('/token', ids), 400, 'invalid_request', 'client_id twice')
    })

    it('refuses raw invalid UTF-8 in the body with 400 invalid_request', async () => {
      const raw = [
        Buffer.from([0xff, 0xfe]),
        Buffer.from([0xc0, 0xaf]), // overlong "/"
        Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate
        Buffer.from([0xe2, 0x80]), // truncated sequence
      ]
      for (const bytes of raw) {
        const body = Buffer.concat([Buffer.from('grant_type=client_credentials&scope='), bytes])
        assertError(
          await post('/token', body, appAuth()),
          400,
          'invalid_request',
          bytes.toString('hex'),
        )
      }
    })

    it('refuses percent-encoded invalid UTF-8 with 400 invalid_request', async () => {
      for (const encoded of ['%ff', '%FF%FE', '%c0%af', '%ed%a0%80', '%e2%80']) {
        const body = `grant_type=client_credentials&scope=read${encoded}`
        assertError(await post('/token', body, appAuth()), 400, 'invalid_request', encoded)
        const token = `token=abc${encoded}`
        assertError(await post('/introspect', token, apiAuth()), 400, 'invalid_request', encoded)
      }
    })

    it('refuses NUL, CR/LF and bidirectional overrides with 400 and reflects none of them', async () => {
      const injections: Record<string, string> = {
        NUL: '%00',
        'CR/LF': '%0d%0aX-Injected:%20yes',
        LF: '%0aSet-Cookie:%20session=evil',
        'right-to-left override': '%E2%80%AE',
        'left-to-right isolate': '%E2%81%A6',
        'C1 control': '%C2%85',
        DEL: '%7f',
      }
      // What must never come back raw: controls, and the bidirectional overrides and isolates.
      // eslint-disable-next-line no-control-regex
      const forbidden = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/
      for (const [label, value] of Object.entries(injections)) {
        const bodies: [string, string, Record<string, string>][] = [
          ['/token', `grant_type=client_credentials&scope=read${value}`, appAuth()],
          ['/token', `grant_type=client_credentials${value}`, appAuth()],
          ['/token', `grant_type=client_credentials&evil${value}=1`, appAuth()],
          ['/introspect', `token=abc${value}`, apiAuth()],
          ['/revoke', `token=abc${value}`, appAuth()],
        ]
        for (const [path, body, headers] of bodies) {
          const res = await post(path, body, headers)
          assertError(res, 400, 'invalid_request', `${label} at ${path}: ${body}`)
          assert.doesNotMatch(res.text, forbidden, label)
          assert.ok(!res.text.includes('Injected') && !res.text.includes('session=evil'), label)
          assert.equal(res.headers['x-injected'], undefined, label)
          assert.equal(res.headers['set-cookie'], undefined, label)
          for (const [name, header] of Object.entries(res.headers)) {
            assert.doesNotMatch(String(header), forbidden, `${label}: header ${name}`)
          }
        }
      }
    })

    it('treats __proto__, constructor and toString as plain parameter names', async () => {
      const body =
        'grant_type=client_credentials&__proto__=x&constructor=y&toString=z&hasOwnProperty=1'
      const res = await post('/token', body, appAuth())
      assert.equal(res.status, 200, res.text)
      const polluted = await post('/token', '__proto__[grant_type]=client_credentials', appAuth())
      assertError(polluted, 400, 'invalid_request')
    })

    it('refuses a client id written with look-alike characters as malformed', async () => {
      // Cyrillic "а" (U+0430) for Latin "a"; a full-width "ａ"; a zero-width joiner.
      for (const id of ['\u0430pp', '\uff41pp', 'ap\u200dp']) {
        const res = await post('/token', 'grant_type=client_credentials', {
          authorization: basic(id, app.client_secret),
        })
        // RFC 6749 Appendix A.1: a client_id is printable ASCII.
        assertError(res, 400, 'invalid_request', id)
      }
    })

    it('is still healthy afterwards', assertHealthy)
  })

  describe('client authentication input', () => {
    it('refuses Basic and client_secret in the body together with 400 invalid_request', async () => {
      const body = `grant_type=client_credentials&client_secret=${app.client_secret}`
      assertError(await post('/token', body, appAuth()), 400, 'invalid_request')
    })

    it('refuses a body client_id that differs from the Basic one with 400 invalid_request', async () => {
      const body = 'grant_type=client_credentials&client_id=api'
      assertError(await post('/token', body, appAuth()), 400, 'invalid_request')
    })

    it('refuses malformed Basic credentials with 400 invalid_request', async () => {
      const headers: Record<string, string> = {
        'bad base64': 'Basic !!!!!!!!',
        'base64 of the wrong length': 'Basic YWJj',
        'base64 with a space inside': 'Basic YXBw OnNlY3JldA==',
        'no colon': `Basic ${Buffer.from('app').toString('base64')}`,
        'invalid UTF-8 inside': `Basic ${Buffer.from([0x61, 0xff, 0x3a, 0x62]).toString('base64')}`,
        'bad percent-encoding': `Basic ${Buffer.from('%zz:secret').toString('base64')}`,
        'no credentials': 'Basic',
        'empty credentials': 'Basic ',
      }
      for (const [label, authorization] of Object.entries(headers)) {
        const res = await post('/token', 'grant_type=client_credentials', { authorization })
        assertError(res, 400, 'invalid_request', label)
      }
    })

    it('refuses an Authorization scheme other than Basic with 400 invalid_request', async () => {
      for (const authorization of ['Bearer abc', 'Digest username="app"', 'Negotiate YWJj']) {
        const res = await post('/token', 'grant_type=client_credentials', { authorization })
        assertError(res, 400, 'invalid_request', authorization)
      }
    })

    it('refuses a 64 KB header with 431 and stays up', async () => {
      await assertRefusedOrCut(
        () =>
          post('/token', 'grant_type=client_credentials', {
            ...appAuth(),
            'x-big': 'a'.repeat(65_536),
          }),
        431,
      )
      await assertHealthy()
    })

    it('answers an unknown client and a wrong secret alike: 401 invalid_client, same body', async () => {
      const unknown = await post('/token', 'grant_type=client_credentials', {
        authorization: basic('no-such-client', app.client_secret),
      })
      const wrong = await post('/token', 'grant_type=client_credentials', {
        authorization: basic(app.client_id, 'not-the-secret-of-app-at-all'),
      })
      for (const res of [unknown, wrong]) {
        assertError(res, 401, 'invalid_client')
        assert.match(String(res.headers['www-authenticate']), /^Basic /)
        assert.match(String(res.headers['cache-control']), /no-store/)
      }
      assert.equal(unknown.text, wrong.text)
      assert.equal(unknown.headers['www-authenticate'], wrong.headers['www-authenticate'])
    })

    it('answers unknown client and wrong secret alike with client_secret_post', async () => {
      const unknown = await post(
        '/token',
        `grant_type=client_credentials&client_id=no-such-client&client_secret=${app.client_secret}`,
      )
      const wrong = await post(
        '/token',
        'grant_type=client_credentials&client_id=app&client_secret=not-the-secret-of-app-at-all',
      )
      assertError(unknown, 401, 'invalid_client')
      assertError(wrong, 401, 'invalid_client')
      assert.equal(unknown.text, wrong.text)
    })

    it('refuses a 10 KB client_id or secret with 401 invalid_client, not 500', async () => {
      const long = 'a'.repeat(10 * 1024)
      const viaBasic = await post('/token', 'grant_type=client_credentials', {
        authorization: basic(long, app.client_secret),
      })
      assertError(viaBasic, 401, 'invalid_client', 'Basic id')
      const viaBody = await post(
        '/token',
        `grant_type=client_credentials&client_id=${long}&client_secret=${app.client_secret}`,
      )
      assertError(viaBody, 401, 'invalid_client', 'body id')
      const longSecret = await post('/token', 'grant_type=client_credentials', {
        authorization: basic(app.client_id, long),
      })
      assertError(longSecret, 401, 'invalid_client', 'secret')
    })

    it('is still healthy afterwards', assertHealthy)
  })

  describe('grants and scope', () => {
    it('refuses an unknown grant_type with unsupported_grant_type', async () => {
      for (const grant of [
        'password',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
        'CLIENT_CREDENTIALS',
      ]) {
        const res = await post('/token', `grant_type=${encodeURIComponent(grant)}`, appAuth())
        assertError(res, 400, 'unsupported_grant_type', grant)
      }
    })

    it('refuses a missing or empty grant_type with invalid_request', async () => {
      assertError(await post('/token', 'scope=read', appAuth()), 400, 'invalid_request', 'missing')
      assertError(await post('/token', 'grant_type=', appAuth()), 400, 'invalid_request', 'empty')
    })

    it('refuses a grant the client is not registered for with unauthorized_client', async () => {
      const res = await post('/token', 'grant_type=client_credentials', {
        authorization: basic(web.client_id, web.client_secret),
      })
      assertError(res, 400, 'unauthorized_client')
    })

    it('refuses an unknown scope with invalid_scope', async () => {
      for (const scope of ['admin', 'read admin', 'READ']) {
        const res = await post(
          '/token',
          `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`,
          appAuth(),
        )
        assertError(res, 400, 'invalid_scope', scope)
      }
    })

    it('refuses a malformed scope with invalid_scope', async () => {
      for (const scope of ['read"', 'read\\', '"', '\\', 'read  write', ' read', 'read ']) {
        const res = await post(
          '/token',
          `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`,
          appAuth(),
        )
        assertError(res, 400, 'invalid_scope', JSON.stringify(scope))
      }
    })

    it('answers an empty scope with a standard 4xx error, not a 500', async () => {
      const res = await post('/token', 'grant_type=client_credentials&scope=', appAuth())
      assert.ok(res.status >= 400 && res.status < 500, res.text)
      assert.ok(STANDARD_CODES.has(String((res.json as Json).error)), res.text)
    })

    it('grants an allowed scope (control)', async () => {
      const res = await post('/token', 'grant_type=client_credentials&scope=read', appAuth())
      assert.equal(res.status, 200, res.text)
      assert.equal((res.json as Json).scope, 'read')
      assert.match(String(res.headers['cache-control']), /no-store/)
    })

    it('sends Cache-Control no-store with every error', async () => {
      const res = await post('/token', 'grant_type=password', appAuth())
      assertError(res, 400, 'unsupported_grant_type')
      assert.match(String(res.headers['cache-control']), /no-store/)
    })

    it('is still healthy afterwards', assertHealthy)
  })

  describe('endpoints', () => {
    it('answers an unknown path with a JSON 404', async () => {
      for (const path of [
        '/nope',
        '/token/../../etc/passwd',
        '/%00',
        '/.well-known/openid-configuration/elsewhere',
      ]) {
        const res = await server.get(path)
        assert.equal(res.status, 404, path)
        assert.equal(typeof (res.json as Json | undefined)?.error, 'string', path)
      }
    })

    it('answers GET on the token endpoint with a JSON 4xx', async () => {
      const res = await server.get('/token')
      assert.ok(res.status === 404 || res.status === 405, String(res.status))
      assert.equal(typeof (res.json as Json | undefined)?.error, 'string')
    })

    it('answers the revocation of an unknown token with 200', async () => {
      const res = await post('/revoke', 'token=no-such-token', appAuth())
      assert.equal(res.status, 200, res.text)
      const jwtShaped = await post('/revoke', 'token=a.b.c', appAuth())
      assert.equal(jwtShaped.status, 200, jwtShaped.text)
    })

    it('refuses revocation and introspection without client authentication with 401', async () => {
      for (const path of ['/revoke', '/introspect']) {
        const res = await post(path, 'token=abc')
        assertError(res, 401, 'invalid_client', path)
        assert.match(String(res.headers['www-authenticate']), /^Basic /)
      }
    })

    it('refuses introspection by a public client with 401 invalid_client', async () => {
      const pub = createClient(
        server.db,
        'public-app',
        '--public',
        '--grant',
        'authorization_code',
        '--redirect-uri',
        'http://127.0.0.1:9/callback',
      )
      const res = await post('/introspect', `token=abc&client_id=${pub.client_id}`)
      assertError(res, 401, 'invalid_client')
    })

    it('refuses introspection without a token with 400 invalid_request', async () => {
      assertError(await post('/introspect', '', apiAuth()), 400, 'invalid_request', 'missing')
      assertError(await post('/introspect', 'token=', apiAuth()), 400, 'invalid_request', 'empty')
    })

    it('is still healthy afterwards', assertHealthy)
  })

  describe('timing', () => {
    it('takes about as long for an unknown client as for a wrong secret', async (t) => {
      const attempt = async (id: string, i: number): Promise<number> => {
        const started = performance.now()
        const res = await post('/token', 'grant_type=client_credentials', {
          // A different wrong secret each time: nothing is remembered between attempts.
          authorization: basic(id, `wrong-secret-number-${i}-${Math.random()}`),
        })
        const elapsed = performance.now() - started
        assertError(res, 401, 'invalid_client')
        return elapsed
      }
      // Warm-up: the first unknown client pays for making the decoy hash.
      await attempt('unknown-warm-up', -1)
      await attempt(app.client_id, -1)
      const unknown: number[] = []
      const wrong: number[] = []
      for (let i = 0; i < 7; i++) {
        unknown.push(await attempt(`unknown-client-${i}`, i))
        wrong.push(await attempt(app.client_id, i))
      }
      const [a, b] = [median(unknown), median(wrong)]
      const ratio = Math.abs(a - b) / Math.min(a, b)
      t.diagnostic(`median ${a.toFixed(1)} ms unknown client, ${b.toFixed(1)} ms wrong secret`)
      assert.ok(ratio < 0.5, `medians ${a.toFixed(1)} ms (unknown) vs ${b.toFixed(1)} ms (wrong)`)
    })
  })

  describe('repeated headers and content types (parser differentials)', () => {
    const host = (): string => `Host: 127.0.0.1:${server.port}`

    /** A raw POST of `body` to `path` with exactly the header lines given (plus Host, Content-Length). */
    function rawPost(path: string, headers: string[], body: string): Promise<RawResponse> {
      return rawRequest(
        server.url,
        [`POST ${path} HTTP/1.1`, host(), `Content-Length: ${Buffer.byteLength(body)}`, ...headers],
        body,
      )
    }

    function assertRawError(res: RawResponse, label: string): void {
      assert.equal(res.status, 400, `${label}: ${res.text}`)
      assert.equal(res.json?.error, 'invalid_request', label)
      assert.match(res.headers['content-type'] ?? '', /^application\/json/, label)
    }

    const endpoints = [
      {
        path: '/token',
        body: 'grant_type=client_credentials',
        auth: () => appAuth().authorization,
      },
      { path: '/introspect', body: 'token=abc', auth: () => apiAuth().authorization },
      { path: '/revoke', body: 'token=abc', auth: () => appAuth().authorization },
    ]

    for (const { path, body, auth } of endpoints) {
      it(`answers a well-formed raw request at ${path} with 200 (control)`, async () => {
        const res = await rawPost(path, [`Authorization: ${auth()}`, `Content-Type: ${FORM}`], body)
        assert.equal(res.status, 200, res.text)
      })

      it(`refuses two Authorization headers at ${path} with 400 invalid_request, in either order`, async () => {
        const wrong = basic('app', 'not-the-secret')
        for (const [first, second] of [
          [auth(), wrong],
          [wrong, auth()],
          [auth(), auth()],
        ]) {
          const res = await rawPost(
            path,
            [`Authorization: ${first}`, `Content-Type: ${FORM}`, `authorization: ${second}`],
            body,
          )
          assertRawError(res, `${first === auth() ? 'valid' : 'wrong'} first`)
        }
      })

      it(`refuses two Content-Type headers at ${path} with 400 invalid_request`, async () => {
        for (const other of [FORM, 'application/json', 'text/plain']) {
          const res = await rawPost(
            path,
            [`Authorization: ${auth()}`, `Content-Type: ${FORM}`, `Content-Type: ${other}`],
            body,
          )
          assertRawError(res, other)
        }
      })

      it(`refuses a charset other than UTF-8 or any other parameter at ${path} with 400`, async () => {
        for (const type of [
          `${FORM}; charset=utf-16`,
          `${FORM}; charset=iso-8859-1`,
          `${FORM}; charset=utf-8; charset=utf-16`,
          `${FORM}; charset=utf-8; charset=utf-8`,
          `${FORM}; charset=utf-8; boundary=x`,
          `${FORM}; boundary=x`,
          `${FORM};`,
          `${FORM}; charset=`,
          `${FORM}; charset=utf8`,
        ]) {
          const res = await rawPost(
            path,
            [`Authorization: ${auth()}`, `Content-Type: ${type}`],
            body,
          )
          assertRawError(res, type)
        }
      })

      it(`accepts the form type in any case, with charset=utf-8 plain or quoted, at ${path}`, async () => {
        for (const type of [
          FORM,
          'Application/X-WWW-Form-URLEncoded',
          `${FORM}; charset=utf-8`,
          `${FORM};charset=UTF-8`,
          `${FORM} ; charset="utf-8"`,
        ]) {
          const res = await rawPost(
            path,
            [`Authorization: ${auth()}`, `Content-Type: ${type}`],
            body,
          )
          assert.equal(res.status, 200, `${type}: ${res.text}`)
        }
      })
    }

    it('refuses two Authorization headers at the revocation feed with 400 invalid_request', async () => {
      const res = await rawRequest(server.url, [
        'GET /revocations?after=0 HTTP/1.1',
        host(),
        'Accept: application/json',
        `Authorization: ${apiAuth().authorization}`,
        `Authorization: ${basic('app', 'nope')}`,
      ])
      assertRawError(res, 'feed')
      const control = await rawRequest(server.url, [
        'GET /revocations?after=0 HTTP/1.1',
        host(),
        'Accept: application/json',
        `Authorization: ${apiAuth().authorization}`,
      ])
      assert.equal(control.status, 200, control.text)
    })

    it('refuses two Host, Cookie, Content-Length or Transfer-Encoding headers with 400', async () => {
      const body = 'grant_type=client_credentials'
      const auth = `Authorization: ${appAuth().authorization}`
      const cases: Record<string, string[]> = {
        'two Host': [
          `POST /token HTTP/1.1`,
          host(),
          'Host: evil.example',
          auth,
          `Content-Type: ${FORM}`,
          `Content-Length: ${body.length}`,
        ],
        'two Cookie': [
          `POST /token HTTP/1.1`,
          host(),
          'Cookie: a=1',
          'Cookie: b=2',
          auth,
          `Content-Type: ${FORM}`,
          `Content-Length: ${body.length}`,
        ],
        'two equal Content-Length': [
          `POST /token HTTP/1.1`,
          host(),
          auth,
          `Content-Type: ${FORM}`,
          `Content-Length: ${body.length}`,
          `Content-Length: ${body.length}`,
        ],
        'two different Content-Length': [
          `POST /token HTTP/1.1`,
          host(),
          auth,
          `Content-Type: ${FORM}`,
          `Content-Length: ${body.length}`,
          `Content-Length: 5`,
        ],
        'two Transfer-Encoding': [
          `POST /token HTTP/1.1`,
          host(),
          auth,
          `Content-Type: ${FORM}`,
          'Transfer-Encoding: chunked',
          'Transfer-Encoding: chunked',
        ],
      }
      for (const [label, head] of Object.entries(cases)) {
        const chunked = label.includes('Transfer-Encoding')
        const res = await rawRequest(
          server.url,
          head,
          chunked ? `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n` : body,
        )
        // Node's HTTP parser refuses some of these before the server sees them: 400 all the same.
        assertRawError(res, label)
      }
    })

    it('refuses repeated headers and a non-UTF-8 charset on the login form POST with 400', async () => {
      const challenge = pkce().challenge
      const page = await request(
        server.url +
          authorizeQuery({
            clientId: web.client_id,
            redirectUri: 'http://127.0.0.1:9/callback',
            challenge,
          }),
      )
      assert.equal(page.status, 200, page.text)
      const cookie = (page.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ')
      const body = new URLSearchParams({ ...formFields(page.text), ...USER }).toString()
      const post = (headers: string[]): Promise<RawResponse> =>
        rawPost('/authorize', [`Cookie: ${cookie}`, ...headers], body)
      for (const [label, headers] of Object.entries({
        'charset=utf-16': [`Content-Type: ${FORM}; charset=utf-16`],
        'two Content-Type': [`Content-Type: ${FORM}`, `Content-Type: ${FORM}`],
        'two Cookie': [`Content-Type: ${FORM}`, `Cookie: ${cookie}`],
      })) {
        const res = await post(headers)
        assert.equal(res.status, 400, `${label}: ${res.text.slice(0, 200)}`)
        assert.equal(res.headers.location, undefined, label)
      }
      // The same form with one proper Content-Type logs in and redirects with a code.
      const res = await post([`Content-Type: ${FORM}; charset=UTF-8`])
      assert.equal(res.status, 303, res.text.slice(0, 200))
      assert.match(res.headers.location ?? '', /^http:\/\/127\.0\.0\.1:9\/callback\?code=/)
    })

    it('is still healthy afterwards', assertHealthy)
  })

  describe('server log', () => {
    it('recorded no 5xx response for any of the above', () => {
      const statuses = server
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => (JSON.parse(line) as { status?: unknown }).status)
      assert.ok(statuses.length > 0)
      assert.deepEqual(
        statuses.filter((s) => typeof s === 'number' && s >= 500),
        [],
      )
    })
  })
})

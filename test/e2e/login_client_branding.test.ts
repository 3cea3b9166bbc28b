/**
 * What the login page says about the client, and what an `/authorize` error page says about a wrong
 * redirect URI: the client's display name (else its id) and its logo, with a CSP whose `img-src`
 * allows exactly the logo's origin; hostile names escaped; a redirect URI that is not registered
 * logged with those that are, and shown on the page only when the issuer is loopback.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { pkce } from '../helpers/browser.js'
import {
  createClient,
  freePort,
  sleep,
  startServer,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
const OTHER_REDIRECT = 'https://app.example/other'
const LOGO = 'https://cdn.example.com:8443/brand/logo.png?v=1&size=2'
const HOSTILE = `"><script>alert('x')</script><img src=x onerror=alert(1)>`

function authorize(clientId: string, redirectUri = REDIRECT): string {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    state: 'st',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
  })
  return `/authorize?${q.toString()}`
}

/** The CSP of a response as directive → sources. */
function csp(res: HttpResponse): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const part of String(res.headers['content-security-policy']).split(';')) {
    const [name = '', ...sources] = part.trim().split(/\s+/)
    out.set(name, sources)
  }
  return out
}

const grant = ['--grant', 'authorization_code', '--redirect-uri', REDIRECT]

describe('login page: the client’s name and logo', () => {
  let server: TestServer

  before(async () => {
    server = await startServer()
    createClient(
      server.db,
      'orders-web',
      ...grant,
      '--display-name',
      'Orders & Billing',
      '--logo-uri',
      LOGO,
    )
    createClient(server.db, 'plain', ...grant)
    createClient(server.db, 'hostile', ...grant, '--display-name', HOSTILE)
  })
  after(() => server.dispose())

  it('shows the display name and the logo, and lets the page load that image from its origin only', async () => {
    const res = await server.get(authorize('orders-web'))
    assert.equal(res.status, 200, res.text.slice(0, 300))
    assert.match(res.text, /<span class="client">Orders &amp; Billing<\/span>/)
    assert.ok(
      res.text.includes(
        '<img class="client-logo" src="https://cdn.example.com:8443/brand/logo.png?v=1&amp;size=2" alt=""',
      ),
      res.text,
    )
    const policy = csp(res)
    assert.deepEqual(policy.get('img-src'), ['https://cdn.example.com:8443'])
    assert.deepEqual(policy.get('default-src'), ["'none'"])
    assert.equal(policy.has('script-src'), false)
    assert.doesNotMatch(res.text, /<script/i)
  })

  it('shows the client id and no image (img-src stays closed) without a name or logo', async () => {
    const res = await server.get(authorize('plain'))
    assert.equal(res.status, 200)
    assert.match(res.text, /<span class="client">plain<\/span>/)
    assert.doesNotMatch(res.text, /<img/)
    assert.equal(csp(res).has('img-src'), false)
  })

  it('escapes a hostile display name', async () => {
    const res = await server.get(authorize('hostile'))
    assert.equal(res.status, 200)
    assert.ok(!res.text.includes(HOSTILE))
    assert.doesNotMatch(res.text, /<script|onerror=alert\(1\)>|<img src=x/i)
    assert.ok(
      res.text.includes(
        '&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;',
      ),
    )
  })
})

describe('authorize error page: a redirect URI that is not registered', () => {
  const sent = `https://app.example/callback?next=<b>"x"</b>`

  /** The server's log line about the mismatch, once written. */
  async function mismatchLog(server: TestServer): Promise<Record<string, unknown>> {
    for (let i = 0; i < 100; i++) {
      for (const line of server.output().split('\n')) {
        if (!line.includes('redirect_uri not registered')) continue
        return JSON.parse(line) as Record<string, unknown>
      }
      await sleep(20)
    }
    assert.fail(`no log line: ${server.output()}`)
  }

  it('on a loopback issuer, logs them and shows the sent and registered URIs, escaped', async () => {
    const server = await startServer()
    try {
      createClient(server.db, 'web', ...grant, '--redirect-uri', OTHER_REDIRECT)
      const res = await server.get(authorize('web', sent))
      assert.equal(res.status, 400)
      assert.equal(res.headers.location, undefined)
      assert.ok(
        res.text.includes(
          '<code>https://app.example/callback?next=&lt;b&gt;&quot;x&quot;&lt;/b&gt;</code>',
        ),
      )
      assert.ok(!res.text.includes('<b>"x"</b>'))
      assert.ok(res.text.includes(`<code>${REDIRECT}</code>`))
      assert.ok(res.text.includes(`<code>${OTHER_REDIRECT}</code>`))
      const log = await mismatchLog(server)
      assert.equal(log.client_id, 'web')
      assert.equal(log.redirect_uri, sent)
      assert.deepEqual(log.registered, [REDIRECT, OTHER_REDIRECT])
    } finally {
      await server.dispose()
    }
  })

  it('elsewhere, logs them but keeps them off the page', async () => {
    const port = await freePort()
    const server = await startServer({ port, args: ['--issuer', 'https://auth.example'] })
    try {
      createClient(server.db, 'web', ...grant)
      const res = await server.get(authorize('web', sent))
      assert.equal(res.status, 400)
      assert.match(res.text, /not one registered/)
      assert.ok(!res.text.includes(REDIRECT), 'registered URI not shown')
      assert.ok(!res.text.includes('next='), 'sent URI not shown')
      const log = await mismatchLog(server)
      assert.equal(log.redirect_uri, sent)
      assert.deepEqual(log.registered, [REDIRECT])
    } finally {
      await server.dispose()
    }
  })
})

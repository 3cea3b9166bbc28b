/**
 * Pushed authorization requests (RFC 9126) end to end against a real server: a client pushes its
 * authorization request (driven by `oauth4webapi`), the browser brings only `client_id` and the
 * `request_uri`, signs in, and the code is redeemed. A `request_uri` is single use and bound to its
 * client; a pushed request is checked like any authorization request but refused as JSON; a client
 * registered with `--require-par` cannot skip the push.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as oauth from 'oauth4webapi'
import { authorizeQuery, Browser, formAction, formFields, pkce } from '../helpers/browser.js'
import {
  basic,
  cli,
  createClient,
  createUser,
  request,
  startServer,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }
const insecure = { [oauth.allowInsecureRequests]: true }

/** A browser's GET of the authorization endpoint, the login form posted when shown; the redirect. */
async function signIn(browser: Browser, pathAndQuery: string): Promise<URL> {
  let res = await browser.get(pathAndQuery)
  if (res.status === 200) {
    const action = formAction(res.text) ?? '/authorize'
    res = await browser.postForm(action, { ...formFields(res.text), ...USER })
  }
  assert.equal(res.status, 303, res.text.slice(0, 300))
  return new URL(res.headers.location!)
}

/** The query that sends a browser to the authorization endpoint with a pushed request. */
const byReference = (clientId: string, requestUri: string): string =>
  `/authorize?${new URLSearchParams({ client_id: clientId, request_uri: requestUri }).toString()}`

/** The error page: 400, HTML, never a redirect. */
function assertErrorPage(res: HttpResponse): void {
  assert.equal(res.status, 400, res.text.slice(0, 300))
  assert.equal(res.headers.location, undefined)
  assert.match(String(res.headers['content-type']), /^text\/html/)
}

describe('pushed authorization requests (RFC 9126)', () => {
  let server: TestServer
  let web: CreatedClient
  let strict: CreatedClient
  let as: oauth.AuthorizationServer

  before(async () => {
    server = await startServer()
    const code = ['--grant', 'authorization_code', '--redirect-uri', REDIRECT]
    web = createClient(server.db, 'web', ...code, '--scope', 'read write')
    createClient(server.db, 'other', ...code)
    strict = createClient(server.db, 'strict', ...code, '--require-par')
    const spa = cli(['client', 'create', '--db', server.db, '--id', 'spa', '--public', ...code])
    assert.equal(spa.status, 0, spa.stderr)
    createUser(server.db, USER)
    as = await oauth.processDiscoveryResponse(
      new URL(server.url),
      await oauth.discoveryRequest(new URL(server.url), { algorithm: 'oauth2', ...insecure }),
    )
  })
  after(() => server.dispose())

  const authOf = (c: CreatedClient): oauth.ClientAuth => oauth.ClientSecretBasic(c.client_secret)

  /** Pushes an authorization request for `client` with oauth4webapi; its request_uri and PKCE. */
  async function push(
    client: CreatedClient | { client_id: string },
    extra: Record<string, string> = {},
  ): Promise<{ requestUri: string; expiresIn: number; verifier: string; response: Response }> {
    const p = pkce()
    const auth = 'client_secret' in client ? authOf(client) : oauth.None()
    const response = await oauth.pushedAuthorizationRequest(
      as,
      { client_id: client.client_id },
      auth,
      {
        response_type: 'code',
        redirect_uri: REDIRECT,
        code_challenge: p.challenge,
        code_challenge_method: 'S256',
        state: 'st',
        ...extra,
      },
      insecure,
    )
    const clone = response.clone()
    const answer = await oauth.processPushedAuthorizationResponse(
      as,
      { client_id: client.client_id },
      response,
    )
    return {
      requestUri: answer.request_uri,
      expiresIn: answer.expires_in,
      verifier: p.verifier,
      response: clone,
    }
  }

  /** Redeems the code at `landed` with oauth4webapi; the token response. */
  async function redeem(
    client: CreatedClient | { client_id: string },
    landed: URL,
    verifier: string,
  ): Promise<oauth.TokenEndpointResponse> {
    const c: oauth.Client = { client_id: client.client_id }
    const auth = 'client_secret' in client ? authOf(client) : oauth.None()
    const callback = oauth.validateAuthResponse(as, c, landed, 'st')
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      c,
      auth,
      callback,
      REDIRECT,
      verifier,
      insecure,
    )
    return oauth.processAuthorizationCodeResponse(as, c, response)
  }

  it('announces the endpoint, and that no client is required to push unless registered so', () => {
    assert.equal(as.pushed_authorization_request_endpoint, `${server.url}/par`)
    assert.equal(as.require_pushed_authorization_requests, false)
  })

  it('pushes a request, signs in with only its request_uri, and redeems the code (oauth4webapi)', async () => {
    const pushed = await push(web, { scope: 'read' })
    assert.equal(pushed.response.status, 201)
    assert.equal(pushed.response.headers.get('cache-control'), 'no-store')
    assert.match(pushed.requestUri, /^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/)
    assert.ok(pushed.expiresIn > 0 && pushed.expiresIn <= 60, `expires_in ${pushed.expiresIn}`)

    const landed = await signIn(new Browser(server.url), byReference('web', pushed.requestUri))
    assert.equal(landed.origin + landed.pathname, REDIRECT)
    const tokens = await redeem(web, landed, pushed.verifier)
    assert.equal(tokens.token_type.toLowerCase(), 'bearer')
    assert.equal(tokens.scope, 'read')
  })

  it('lets a public client push with none and complete the flow', async () => {
    const spa = { client_id: 'spa' }
    const pushed = await push(spa)
    const landed = await signIn(new Browser(server.url), byReference('spa', pushed.requestUri))
    const tokens = await redeem(spa, landed, pushed.verifier)
    assert.equal(typeof tokens.access_token, 'string')
  })

  it('refuses a replayed request_uri, while the login it started still completes', async () => {
    const pushed = await push(web)
    const browser = new Browser(server.url)
    const page = await browser.get(byReference('web', pushed.requestUri))
    assert.equal(page.status, 200, page.text.slice(0, 300))

    // The same reference again, from this browser or another: already used.
    assertErrorPage(await browser.get(byReference('web', pushed.requestUri)))
    assertErrorPage(await new Browser(server.url).get(byReference('web', pushed.requestUri)))

    // The form the first use showed carries the request: signing in there still works.
    const res = await browser.postForm(formAction(page.text) ?? '/authorize', {
      ...formFields(page.text),
      ...USER,
    })
    assert.equal(res.status, 303, res.text.slice(0, 300))
    const tokens = await redeem(web, new URL(res.headers.location!), pushed.verifier)
    assert.equal(typeof tokens.access_token, 'string')

    // A browser that is signed in gets a code at once, and still only once per reference.
    const next = await push(web)
    const at = await browser.get(byReference('web', next.requestUri))
    assert.equal(at.status, 303)
    assert.ok(new URL(at.headers.location!).searchParams.has('code'))
    assertErrorPage(await browser.get(byReference('web', next.requestUri)))
  })

  it("refuses another client's request_uri and leaves it to its own client", async () => {
    const pushed = await push(web)
    assertErrorPage(await new Browser(server.url).get(byReference('other', pushed.requestUri)))
    assertErrorPage(await new Browser(server.url).get(`/authorize?request_uri=x`))
    const landed = await signIn(new Browser(server.url), byReference('web', pushed.requestUri))
    assert.ok(landed.searchParams.has('code'))
  })

  it('refuses an unknown or malformed request_uri with the error page', async () => {
    for (const uri of [
      'urn:ietf:params:oauth:request_uri:' + 'A'.repeat(43),
      'urn:ietf:params:oauth:request_uri:short',
      'https://attacker.example/request.jwt',
      '',
    ]) {
      const res = await new Browser(server.url).get(
        `/authorize?client_id=web&request_uri=${encodeURIComponent(uri)}`,
      )
      // Empty means absent (RFC 6749 §3.1): an ordinary request, here without its parameters.
      assertErrorPage(res)
    }
  })

  it('uses only the pushed parameters, whatever else the query says', async () => {
    const pushed = await push(web, { scope: 'read', state: 'st' })
    const query = new URLSearchParams({
      client_id: 'web',
      request_uri: pushed.requestUri,
      redirect_uri: 'https://attacker.example/cb',
      scope: 'write',
      state: 'other',
    })
    const browser = new Browser(server.url)
    const page = await browser.get(`/authorize?${query.toString()}`)
    assert.equal(page.status, 200, page.text.slice(0, 300))
    const fields = formFields(page.text)
    assert.equal(fields.redirect_uri, REDIRECT)
    assert.equal(fields.scope, 'read')
    assert.equal(fields.state, 'st')
    assertErrorPage(await browser.get(`/authorize?${query.toString()}`))
    const res = await browser.postForm('/authorize', { ...fields, ...USER })
    const tokens = await redeem(web, new URL(res.headers.location!), pushed.verifier)
    assert.equal(tokens.scope, 'read')
  })

  it('refuses a --require-par client without a pushed request, and serves it with one', async () => {
    const p = pkce()
    const plain = await new Browser(server.url).get(
      authorizeQuery({ clientId: 'strict', redirectUri: REDIRECT, challenge: p.challenge }),
    )
    assert.equal(plain.status, 303)
    const refused = new URL(plain.headers.location!)
    assert.equal(refused.origin + refused.pathname, REDIRECT)
    assert.equal(refused.searchParams.get('error'), 'invalid_request')
    assert.equal(refused.searchParams.get('state'), 'st')

    const pushed = await push(strict)
    const landed = await signIn(new Browser(server.url), byReference('strict', pushed.requestUri))
    const tokens = await redeem(strict, landed, pushed.verifier)
    assert.equal(typeof tokens.access_token, 'string')
  })

  it('uses the pushed parameters, never the login form’s, and refuses a form without its handle', async () => {
    const signIn = async (tamper: (f: Record<string, string>) => void) => {
      const pushed = await push(strict)
      const browser = new Browser(server.url)
      const page = await browser.get(byReference('strict', pushed.requestUri))
      assert.equal(page.status, 200)
      const fields = formFields(page.text)
      assert.equal(typeof fields.pushed_request, 'string')
      const original = { ...fields }
      tamper(fields)
      const res = await browser.postForm('/authorize', { ...fields, ...USER })
      assert.equal(res.status, 303)
      // The same form again: its handle was used up.
      const again = await browser.postForm('/authorize', { ...fields, ...USER })
      return { original, url: new URL(res.headers.location!), again }
    }

    const missing = await signIn((f) => delete f.pushed_request)
    assert.equal(missing.url.searchParams.get('error'), 'invalid_request')
    assert.equal(missing.url.searchParams.has('code'), false)

    const edited = await signIn((f) => {
      f.state = 'changed'
      f.scope = 'admin'
    })
    assert.ok(edited.url.searchParams.has('code'), 'signed in with the pushed request')
    assert.equal(edited.url.searchParams.get('state'), edited.original.state ?? null)
    const replay = new URL(edited.again.headers.location ?? 'http://x/')
    assert.equal(replay.searchParams.has('code'), false, 'a used handle is not a pushed request')
  })

  /** POSTs a pushed request for `web` (Basic) with `form`; returns the raw response. */
  const rawPush = (form: Record<string, string>, authorization?: string): Promise<HttpResponse> =>
    request(server.url + '/par', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(authorization === undefined ? {} : { authorization }),
      },
      body: new URLSearchParams(form).toString(),
    })
  const valid = (): Record<string, string> => ({
    response_type: 'code',
    redirect_uri: REDIRECT,
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
  })

  it('refuses a pushed request the authorization endpoint would refuse, as JSON', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ redirect_uri: 'https://attacker.example/cb' }, 'invalid_request'],
      [{ redirect_uri: REDIRECT + '/' }, 'invalid_request'],
      [{ scope: 'admin' }, 'invalid_scope'],
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ request_uri: 'urn:ietf:params:oauth:request_uri:' + 'A'.repeat(43) }, 'invalid_request'],
      [{ client_id: 'other' }, 'invalid_request'],
    ]
    for (const [change, error] of cases) {
      const res = await rawPush({ ...valid(), ...change }, basic(web.client_id, web.client_secret))
      assert.equal(res.status, 400, JSON.stringify(change))
      assert.equal(res.json.error, error, JSON.stringify(change))
      assert.equal(res.headers.location, undefined)
      assert.equal(res.headers['cache-control'], 'no-store')
      assert.match(String(res.headers['content-type']), /^application\/json/)
    }
  })

  it('answers 405 to a method other than POST', async () => {
    const res = await request(server.url + '/par')
    assert.equal(res.status, 405)
    assert.equal(res.headers.allow, 'POST')
    assert.equal(res.json.error, 'invalid_request')
  })

  it('refuses an unauthenticated push with 401 invalid_client', async () => {
    const none = await rawPush(valid())
    assert.equal(none.status, 401)
    assert.equal(none.json.error, 'invalid_client')
    const wrong = await rawPush(valid(), basic(web.client_id, 'not-the-secret-of-this-client'))
    assert.equal(wrong.status, 401)
    assert.equal(wrong.json.error, 'invalid_client')
    // A confidential client cannot pass for a public one by naming itself.
    const named = await rawPush({ ...valid(), client_id: web.client_id })
    assert.equal(named.status, 401)
    assert.equal(named.json.error, 'invalid_client')
  })
})

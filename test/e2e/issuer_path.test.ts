/**
 * An issuer with a path (`http://127.0.0.1:PORT/auth`): metadata where RFC 8414 §3.1 puts it, every
 * endpoint under the path, tokens naming the issuer exactly, and the verifier SDK and the browser
 * login finding their way.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decodeJwt } from 'jose'
import { createVerifier } from '@latchkey/verifier'
import {
  authorize,
  authorizeQuery,
  Browser,
  formAction,
  formFields,
  pkce,
} from '../helpers/browser.js'
import {
  basic,
  cli,
  createClient,
  createUser,
  freePort,
  request,
  startServer,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }

describe('an issuer with a path', () => {
  let server: TestServer
  let issuer: string
  let service: CreatedClient
  let api: CreatedClient
  let web: CreatedClient

  before(async () => {
    const port = await freePort()
    issuer = `http://127.0.0.1:${port}/auth`
    server = await startServer({ port, args: ['--issuer', issuer] })
    service = createClient(server.db, 'service', '--grant', 'client_credentials')
    api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    web = createClient(
      server.db,
      'web',
      ...['--grant', 'authorization_code', '--grant', 'refresh_token', '--redirect-uri', REDIRECT],
    )
    const spa = cli([
      ...['client', 'create', '--db', server.db, '--id', 'spa', '--public'],
      ...['--grant', 'authorization_code', '--redirect-uri', REDIRECT],
    ])
    assert.equal(spa.status, 0, spa.stderr)
    createUser(server.db, USER)
  })
  after(() => server.dispose())

  const origin = (): string => new URL(issuer).origin
  const post = (
    url: string,
    form: Record<string, string>,
    client?: CreatedClient,
  ): Promise<HttpResponse> =>
    request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(client ? { authorization: basic(client.client_id, client.client_secret) } : {}),
      },
      body: new URLSearchParams(form).toString(),
    })
  const metadata = async (): Promise<Record<string, string>> => {
    const res = await request(`${origin()}/.well-known/oauth-authorization-server/auth`)
    assert.equal(res.status, 200)
    return res.json as Record<string, string>
  }

  it('serves its metadata at the RFC 8414 §3.1 location, naming endpoints under the path', async () => {
    const md = await metadata()
    assert.equal(md.issuer, issuer)
    for (const name of [
      'authorization_endpoint',
      'token_endpoint',
      'jwks_uri',
      'introspection_endpoint',
      'revocation_endpoint',
      'pushed_authorization_request_endpoint',
      'latchkey_revocation_endpoint',
      'end_session_endpoint',
    ]) {
      assert.ok(md[name]?.startsWith(`${issuer}/`), `${name}: ${md[name]}`)
    }
    // Also where clients that append the segment to the issuer look; never at the bare root.
    assert.equal((await request(`${issuer}/.well-known/oauth-authorization-server`)).status, 200)
    assert.equal((await request(`${origin()}/.well-known/oauth-authorization-server`)).status, 404)
    const jwks = await request(md.jwks_uri!)
    assert.equal(jwks.status, 200)
    assert.ok(Array.isArray(jwks.json.keys))
    // The endpoints live under the path only.
    assert.equal(
      (await post(`${origin()}/token`, { grant_type: 'client_credentials' })).status,
      404,
    )
  })

  it('serves its OpenID provider configuration under the path (Discovery §4), and where RFC 8414 would put it', async () => {
    const md = await metadata()
    for (const url of [
      `${issuer}/.well-known/openid-configuration`,
      `${origin()}/.well-known/openid-configuration/auth`,
    ]) {
      const res = await request(url)
      assert.equal(res.status, 200, url)
      assert.equal(res.json.issuer, issuer)
      assert.equal(res.json.token_endpoint, md.token_endpoint)
      assert.equal(res.json.userinfo_endpoint, `${issuer}/userinfo`)
      assert.ok((res.json.id_token_signing_alg_values_supported as string[]).includes('RS256'))
    }
    assert.equal((await request(`${origin()}/.well-known/openid-configuration`)).status, 404)
  })

  it('issues, introspects and revokes under the path, with iss equal to the issuer', async () => {
    const md = await metadata()
    const issued = await post(md.token_endpoint!, { grant_type: 'client_credentials' }, service)
    assert.equal(issued.status, 200, issued.text)
    const token = issued.json.access_token as string
    assert.equal(decodeJwt(token).iss, issuer)

    const active = await post(md.introspection_endpoint!, { token }, api)
    assert.equal(active.status, 200)
    assert.equal(active.json.active, true)
    assert.equal(active.json.iss, issuer)

    const revoked = await post(md.revocation_endpoint!, { token }, service)
    assert.equal(revoked.status, 200)
    assert.deepEqual((await post(md.introspection_endpoint!, { token }, api)).json, {
      active: false,
    })
    const feed = await request(`${md.latchkey_revocation_endpoint}?after=0`, {
      headers: { authorization: basic(api.client_id, api.client_secret) },
    })
    assert.equal(feed.status, 200, feed.text)
  })

  it('runs the browser login and code flow under the path', async () => {
    const md = await metadata()
    const browser = new Browser(origin())
    for (const client of [web, { client_id: 'spa', client_secret: '' }]) {
      const p = pkce()
      const landed = await authorize(
        browser,
        {
          clientId: client.client_id,
          redirectUri: REDIRECT,
          challenge: p.challenge,
          path: new URL(md.authorization_endpoint!).pathname,
        },
        USER,
      )
      assert.equal(landed.origin + landed.pathname, REDIRECT)
      assert.equal(landed.searchParams.get('iss'), issuer)
      const code = landed.searchParams.get('code')
      assert.ok(code)
      const form = {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: p.verifier,
      }
      const tokens =
        client === web
          ? await post(md.token_endpoint!, form, web)
          : await post(md.token_endpoint!, { ...form, client_id: 'spa' })
      assert.equal(tokens.status, 200, tokens.text)
      assert.equal(decodeJwt(tokens.json.access_token as string).iss, issuer)
    }
    // Logout under the path: its confirmation form posts there too, and signs the browser out.
    const logout = new URL(md.end_session_endpoint!).pathname
    const page = await browser.get(logout)
    assert.equal(page.status, 200, page.text)
    assert.equal(formAction(page.text), logout)
    const done = await browser.postForm(logout, { ...formFields(page.text), choice: 'sign_out' })
    assert.equal(done.status, 200, done.text)
    assert.match(done.text, /You are signed out/)
    const again = await browser.get(
      authorizeQuery({
        clientId: web.client_id,
        redirectUri: REDIRECT,
        challenge: pkce().challenge,
        path: new URL(md.authorization_endpoint!).pathname,
      }),
    )
    assert.equal(again.status, 200, 'the login form again')
  })

  it('lets the verifier SDK discover the issuer and verify its tokens', async () => {
    const md = await metadata()
    const issued = await post(md.token_endpoint!, { grant_type: 'client_credentials' }, service)
    const token = issued.json.access_token as string
    // Discovery at the RFC 8414 §3.1 location only: the other one answers 404 here.
    const fetchAt: string[] = []
    const verifier = createVerifier({
      issuer,
      audience: issuer,
      clientId: api.client_id,
      clientSecret: api.client_secret,
      fetch: (input, init) => {
        const url = input instanceof Request ? input.url : String(input)
        fetchAt.push(url)
        if (url === `${issuer}/.well-known/oauth-authorization-server`) {
          return Promise.resolve(new Response('', { status: 404 }))
        }
        return fetch(input, init)
      },
    })
    try {
      const claims = await verifier.verify(token)
      assert.equal(claims.iss, issuer)
      assert.equal(claims.client_id, 'service')
      assert.ok(fetchAt.includes(`${origin()}/.well-known/oauth-authorization-server/auth`))
    } finally {
      verifier.close()
    }
  })
})

/**
 * The userinfo endpoint (OpenID Connect Core §5.3) over HTTP against a real server: a user with a
 * profile signs in with the code flow and scope openid; their access tokens (JWT and opaque) get the
 * claims their scopes release (§5.4), by GET and by POST, header or form body (RFC 6750 §2.1, §2.2);
 * revoked, unknown, client and scope-less tokens are refused with a Bearer challenge (RFC 6750 §3).
 * oauth4webapi, an off-the-shelf relying-party library, accepts the answers.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as oauth from 'oauth4webapi'
import { authorize, Browser, pkce } from '../helpers/browser.js'
import {
  cli,
  createClient,
  request,
  sleep,
  startServer,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }
const PROFILE = {
  email: 'alice@example.com',
  name: 'Alice Liddell',
  given_name: 'Alice',
  family_name: 'Liddell',
}

describe('userinfo endpoint', () => {
  let server: TestServer
  let web: CreatedClient
  let opaque: CreatedClient
  let service: CreatedClient
  let serviceOpaque: CreatedClient
  let userId: string

  before(async () => {
    server = await startServer()
    const grants = ['--grant', 'authorization_code', '--redirect-uri', REDIRECT]
    const scope = ['--scope', 'openid profile email orders']
    web = createClient(server.db, 'web', ...grants, ...scope)
    opaque = createClient(
      server.db,
      'web-opaque',
      ...grants,
      ...scope,
      '--access-token-format',
      'opaque',
    )
    service = createClient(server.db, 'svc', '--grant', 'client_credentials', ...scope)
    serviceOpaque = createClient(
      server.db,
      'svc-opaque',
      ...['--grant', 'client_credentials', ...scope, '--access-token-format', 'opaque'],
    )
    const created = cli(
      [
        ...['user', 'create', '--db', server.db, '--username', USER.username],
        ...['--email', PROFILE.email, '--email-verified', '--name', PROFILE.name],
        ...['--given-name', PROFILE.given_name, '--family-name', PROFILE.family_name],
      ],
      { input: USER.password + '\n' },
    )
    assert.equal(created.status, 0, created.stderr)
    userId = (created.json as { id: string }).id
  })
  after(() => server.dispose())

  /** Signs in through the login page with `scope` and redeems the code: the access token. */
  async function accessToken(client: CreatedClient, scope: string): Promise<string> {
    const p = pkce()
    const landed = await authorize(
      new Browser(server.url),
      { clientId: client.client_id, redirectUri: REDIRECT, challenge: p.challenge, scope },
      USER,
    )
    const code = landed.searchParams.get('code')
    assert.ok(code, landed.href)
    const res = await server.post(
      '/token',
      { grant_type: 'authorization_code', code, code_verifier: p.verifier, redirect_uri: REDIRECT },
      [client.client_id, client.client_secret],
    )
    assert.equal(res.status, 200, res.text)
    assert.equal(res.json.scope, scope, 'the scope asked for is granted')
    return String(res.json.access_token)
  }

  const get = (token?: string): Promise<HttpResponse> =>
    request(`${server.url}/userinfo`, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    })
  const postForm = (form: Record<string, string>, headers: Record<string, string> = {}) =>
    request(`${server.url}/userinfo`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    })

  /** A Bearer challenge with `error` (none: a bare challenge). */
  function assertChallenge(res: HttpResponse, status: number, error?: string): void {
    assert.equal(res.status, status, res.text)
    const challenge = String(res.headers['www-authenticate'])
    assert.match(challenge, /^Bearer realm="latchkey"/)
    if (error === undefined) assert.doesNotMatch(challenge, /error=/)
    else assert.match(challenge, new RegExp(`error="${error}"`))
    assert.equal(res.headers['cache-control'], 'no-store')
  }

  it('is announced in the metadata', async () => {
    const md = await server.get('/.well-known/oauth-authorization-server')
    assert.equal(md.json.userinfo_endpoint, `${server.url}/userinfo`)
  })

  it('answers a JWT access token with openid profile email with every claim, by GET, not cached', async () => {
    const token = await accessToken(web, 'openid profile email')
    assert.ok(token.includes('.'), 'a JWT')
    const res = await get(token)
    assert.equal(res.status, 200, res.text)
    assert.match(String(res.headers['content-type']), /^application\/json/)
    assert.equal(res.headers['cache-control'], 'no-store')
    assert.deepEqual(res.json, { sub: userId, ...PROFILE, email_verified: true })
  })

  it('answers an opaque access token by POST, with the token in the header or the form body', async () => {
    const token = await accessToken(opaque, 'openid profile email')
    assert.ok(!token.includes('.'), 'opaque')
    const expected = { sub: userId, ...PROFILE, email_verified: true }
    const inHeader = await postForm({}, { authorization: `Bearer ${token}` })
    assert.equal(inHeader.status, 200, inHeader.text)
    assert.deepEqual(inHeader.json, expected)
    const inBody = await postForm({ access_token: token })
    assert.equal(inBody.status, 200, inBody.text)
    assert.deepEqual(inBody.json, expected)
    assert.equal(inBody.headers['cache-control'], 'no-store')
  })

  it('releases only the claims the scopes ask for: sub always, profile names, email', async () => {
    const bare = await get(await accessToken(web, 'openid'))
    assert.deepEqual(bare.json, { sub: userId })
    const profile = await get(await accessToken(opaque, 'openid profile'))
    assert.deepEqual(profile.json, {
      sub: userId,
      name: PROFILE.name,
      given_name: PROFILE.given_name,
      family_name: PROFILE.family_name,
    })
    const email = await get(await accessToken(web, 'openid email orders'))
    assert.deepEqual(email.json, { sub: userId, email: PROFILE.email, email_verified: true })
  })

  it('serves the profile as it is now, and leaves out fields that are not set', async () => {
    const token = await accessToken(web, 'openid profile email')
    const cleared = cli(
      ['user', 'update', '--db', server.db, '--username', USER.username].concat([
        '--given-name',
        '',
        '--email',
        'alice@example.org',
      ]),
    )
    assert.equal(cleared.status, 0, cleared.stderr)
    try {
      const res = await get(token)
      assert.deepEqual(res.json, {
        sub: userId,
        name: PROFILE.name,
        family_name: PROFILE.family_name,
        email: 'alice@example.org',
        email_verified: false,
      })
    } finally {
      const restored = cli(
        ['user', 'update', '--db', server.db, '--username', USER.username].concat([
          '--given-name',
          PROFILE.given_name,
          '--email',
          PROFILE.email,
          '--email-verified',
        ]),
      )
      assert.equal(restored.status, 0, restored.stderr)
    }
  })

  it('refuses a user token without openid with 401 insufficient_scope', async () => {
    const res = await get(await accessToken(web, 'profile email orders'))
    assertChallenge(res, 401, 'insufficient_scope')
    assert.match(String(res.headers['www-authenticate']), /scope="openid"/)
    assert.equal(res.json.error, 'insufficient_scope')
  })

  it('refuses a client_credentials token, even one with openid, with 401 insufficient_scope', async () => {
    // RFC 6750 §3.1: the token is valid, but it speaks for a client, not a user, and OIDC Core §5.3
    // serves claims about an end-user only.
    for (const client of [service, serviceOpaque]) {
      const res = await server.post(
        '/token',
        { grant_type: 'client_credentials', scope: 'openid profile email' },
        [client.client_id, client.client_secret],
      )
      assert.equal(res.status, 200, res.text)
      assert.equal(res.json.scope, 'openid profile email')
      const refused = await get(String(res.json.access_token))
      assertChallenge(refused, 401, 'insufficient_scope')
    }
  })

  it('refuses a token revoked at the revocation endpoint with 401 invalid_token', async () => {
    for (const client of [web, opaque]) {
      const token = await accessToken(client, 'openid')
      assert.equal((await get(token)).status, 200)
      const revoked = await server.post('/revoke', { token }, [
        client.client_id,
        client.client_secret,
      ])
      assert.equal(revoked.status, 200, revoked.text)
      let res = await get(token)
      // A JWT's revocation reaches the server's own follower within a second.
      for (let i = 0; i < 20 && res.status === 200; i++)
        res = await sleep(100).then(() => get(token))
      assertChallenge(res, 401, 'invalid_token')
      assert.equal(res.json.error, 'invalid_token')
    }
  })

  it('refuses the tokens of a session ended by `latchkey session revoke` with 401 invalid_token', async () => {
    const jwt = await accessToken(web, 'openid')
    const opaqueToken = await accessToken(opaque, 'openid')
    assert.equal((await get(jwt)).status, 200)
    assert.equal((await get(opaqueToken)).status, 200)
    const ended = cli(['session', 'revoke', '--db', server.db, '--user', USER.username])
    assert.equal(ended.status, 0, ended.stderr)
    // DESIGN: a running server honours it within one second.
    await sleep(1000)
    assertChallenge(await get(jwt), 401, 'invalid_token')
    assertChallenge(await postForm({ access_token: opaqueToken }), 401, 'invalid_token')
  })

  it('refuses unknown, malformed and forged tokens with 401 invalid_token', async () => {
    const jwt = await accessToken(web, 'openid')
    const [h, p] = jwt.split('.')
    for (const token of ['x'.repeat(43), 'not-a-token', `${h}.${p}.AAAA`, `${h}.${p}.`]) {
      assertChallenge(await get(token), 401, 'invalid_token')
    }
  })

  it('challenges a request without a token with a bare 401 Bearer challenge', async () => {
    assertChallenge(await get(), 401)
    assertChallenge(await postForm({}), 401)
    // Basic credentials are not a bearer token.
    const basic = await request(`${server.url}/userinfo`, {
      headers: { authorization: 'Basic YTpi' },
    })
    assertChallenge(basic, 401)
  })

  it('refuses a token sent in both the header and the body with 400 invalid_request', async () => {
    const token = await accessToken(web, 'openid')
    const res = await postForm({ access_token: token }, { authorization: `Bearer ${token}` })
    assertChallenge(res, 400, 'invalid_request')
    assertChallenge(await get('a b'), 400, 'invalid_request')
  })

  it('is read by oauth4webapi, which checks the subject', async () => {
    const insecure = { [oauth.allowInsecureRequests]: true }
    const as = await oauth.processDiscoveryResponse(
      new URL(server.url),
      await oauth.discoveryRequest(new URL(server.url), { algorithm: 'oauth2', ...insecure }),
    )
    assert.equal(as.userinfo_endpoint, `${server.url}/userinfo`)
    const client: oauth.Client = { client_id: web.client_id }
    for (const c of [web, opaque]) {
      const token = await accessToken(c, 'openid profile email')
      const claims = await oauth.processUserInfoResponse(
        as,
        client,
        userId,
        await oauth.userInfoRequest(as, client, token, insecure),
      )
      assert.equal(claims.sub, userId)
      assert.equal(claims.email, PROFILE.email)
      assert.equal(claims.email_verified, true)
      assert.equal(claims.given_name, PROFILE.given_name)
      // Another subject than expected is refused by the library.
      await assert.rejects(
        oauth.processUserInfoResponse(
          as,
          client,
          'someone-else',
          await oauth.userInfoRequest(as, client, token, insecure),
        ),
      )
    }
    // A refusal reaches the library as the challenge it carries.
    const refused = await oauth.userInfoRequest(as, client, 'x'.repeat(43), insecure)
    await assert.rejects(oauth.processUserInfoResponse(as, client, userId, refused), (err) => {
      assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, String(err))
      assert.equal(err.cause[0]?.parameters.error, 'invalid_token')
      return true
    })
  })
})

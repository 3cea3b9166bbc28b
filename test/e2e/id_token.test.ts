/**
 * OpenID Connect ID tokens over HTTP against a real server: the code flow with scope openid returns an
 * ID token (Core §3.1.3.3) verified with `jose` against the server's JWKS, every claim checked and
 * `at_hash` computed here (§3.1.3.6); RS256 by default, the client's registered alg otherwise; a
 * refresh returns a new one without `nonce` and with the same `auth_time` (§12.2); no openid, no ID
 * token; `nonce` and `claims` request parameters (§3.1.2.1, §5.5); `keys rotate --alg RS256` changes
 * the kid of new ID tokens while the old ones still verify; the discovery document (Discovery 1.0
 * §3); and oauth4webapi and openid-client, off-the-shelf relying parties, accept the response with
 * its nonce.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose'
import * as oauth from 'oauth4webapi'
import * as openid from 'openid-client'
import { authorize, Browser, formAction, formFields, pkce } from '../helpers/browser.js'
import {
  cli,
  createClient,
  request,
  sleep,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }
const EMAIL = 'alice@example.com'
const NAME = 'Alice Liddell'

/** at_hash (Core §3.1.3.6), computed independently: left half of SHA-256, base64url. */
function atHash(accessToken: string): string {
  const digest = createHash('sha256').update(accessToken, 'ascii').digest()
  return digest.subarray(0, 16).toString('base64url')
}

interface SignedIn {
  /** The token response. */
  tokens: Record<string, unknown>
  /** Seconds since the epoch just before the login form was sent. */
  before: number
}

describe('ID tokens', () => {
  let server: TestServer
  let web: CreatedClient
  let es: CreatedClient
  let userId: string
  let jwks: ReturnType<typeof createRemoteJWKSet>

  before(async () => {
    server = await startServer()
    const grants = ['--grant', 'authorization_code', '--grant', 'refresh_token']
    const shared = [...grants, '--redirect-uri', REDIRECT, '--scope', 'openid profile email orders']
    web = createClient(server.db, 'web', ...shared)
    es = createClient(server.db, 'web-es', ...shared, '--id-token-signed-response-alg', 'ES256')
    const created = cli(
      [
        ...['user', 'create', '--db', server.db, '--username', USER.username],
        ...['--email', EMAIL, '--email-verified', '--name', NAME],
      ],
      { input: USER.password + '\n' },
    )
    assert.equal(created.status, 0, created.stderr)
    userId = (created.json as { id: string }).id
    jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`))
  })
  after(() => server.dispose())

  /** Signs in through the login page with `scope` (and `extra` parameters) and redeems the code. */
  async function signIn(
    client: CreatedClient,
    scope: string,
    extra: Record<string, string> = {},
  ): Promise<SignedIn> {
    const p = pkce()
    const before = Math.floor(Date.now() / 1000)
    const landed = await authorize(
      new Browser(server.url),
      { clientId: client.client_id, redirectUri: REDIRECT, challenge: p.challenge, scope, extra },
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
    return { tokens: res.json, before }
  }

  async function refresh(client: CreatedClient, token: unknown): Promise<Record<string, unknown>> {
    const res = await server.post(
      '/token',
      { grant_type: 'refresh_token', refresh_token: String(token) },
      [client.client_id, client.client_secret],
    )
    assert.equal(res.status, 200, res.text)
    return res.json
  }

  /** Verifies an ID token with the server's JWKS, its issuer and the client as audience. */
  async function verify(idToken: unknown, clientId: string): Promise<JWTPayload> {
    assert.equal(typeof idToken, 'string', 'an id_token is returned')
    const { payload, protectedHeader } = await jwtVerify(String(idToken), jwks, {
      issuer: server.url,
      audience: clientId,
      typ: 'JWT',
    })
    assert.equal(typeof protectedHeader.kid, 'string')
    return payload
  }

  it('returns an RS256 ID token with every claim for a code flow with scope openid and a nonce', async () => {
    const nonce = 'n-0S6_WzA2Mj ünïcode & spaces'
    const { tokens, before } = await signIn(web, 'openid orders', { nonce })
    const header = decodeProtectedHeader(String(tokens.id_token))
    assert.deepEqual(Object.keys(header).sort(), ['alg', 'kid', 'typ'])
    assert.equal(header.alg, 'RS256', 'RS256 by default')
    assert.equal(header.typ, 'JWT')
    const claims = await verify(tokens.id_token, web.client_id)
    assert.equal(claims.iss, server.url)
    assert.equal(claims.sub, userId)
    assert.equal(claims.aud, web.client_id, 'aud is the client id, a string')
    assert.equal(claims.azp, web.client_id)
    assert.equal(claims.nonce, nonce, 'the nonce exactly as sent')
    const iat = Number(claims.iat)
    assert.ok(iat >= before, 'iat is now')
    assert.equal(Number(claims.exp) - iat, 3600, 'lives idTokenSeconds, by default 3600')
    const authTime = Number(claims.auth_time)
    assert.ok(authTime >= before && authTime <= iat, 'auth_time is when the user logged in')
    assert.equal(claims.at_hash, atHash(String(tokens.access_token)))
    const access = decodeJwt(String(tokens.access_token))
    assert.equal(claims.sid, access.sid, 'sid is the session, as in the access token')
    assert.equal(typeof claims.sid, 'string')
    for (const absent of ['email', 'email_verified', 'name']) {
      assert.equal(claims[absent], undefined, `${absent} not asked for`)
    }
  })

  it('refuses an ID token presented as an access token, at introspection and at userinfo', async () => {
    const api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    const { tokens } = await signIn(web, 'openid profile')
    const introspected = await server.post('/introspect', { token: String(tokens.id_token) }, [
      api.client_id,
      api.client_secret,
    ])
    assert.deepEqual(introspected.json, { active: false })
    const info = await request(`${server.url}/userinfo`, {
      headers: { authorization: `Bearer ${String(tokens.id_token)}` },
    })
    assert.equal(info.status, 401)
    assert.match(String(info.headers['www-authenticate']), /error="invalid_token"/)
  })

  it('signs with the alg the client registered (ES256), verifiable with the JWKS', async () => {
    const { tokens } = await signIn(es, 'openid')
    assert.equal(decodeProtectedHeader(String(tokens.id_token)).alg, 'ES256')
    const claims = await verify(tokens.id_token, es.client_id)
    assert.equal(claims.nonce, undefined, 'no nonce sent, none returned')
    assert.equal(claims.at_hash, atHash(String(tokens.access_token)))
  })

  it('returns a new ID token on refresh, without nonce, with the same auth_time, sub and sid', async () => {
    const { tokens } = await signIn(web, 'openid profile', { nonce: 'first' })
    const first = await verify(tokens.id_token, web.client_id)
    await sleep(1100)
    const refreshed = await refresh(web, tokens.refresh_token)
    const second = await verify(refreshed.id_token, web.client_id)
    assert.equal(second.nonce, undefined, 'Core §12.2: no nonce on refresh')
    assert.equal(second.auth_time, first.auth_time)
    assert.equal(second.sub, first.sub)
    assert.equal(second.aud, first.aud)
    assert.equal(second.iss, first.iss)
    assert.equal(second.sid, first.sid)
    assert.ok(Number(second.iat) > Number(first.iat), 'a new iat')
    assert.equal(second.at_hash, atHash(String(refreshed.access_token)))
  })

  it('returns no ID token without scope openid, on the code or a refresh', async () => {
    const { tokens } = await signIn(web, 'orders profile')
    assert.equal(tokens.id_token, undefined)
    const refreshed = await refresh(web, tokens.refresh_token)
    assert.equal(refreshed.id_token, undefined)
  })

  it('refuses a nonce over 255 characters or a malformed claims parameter at the redirect URI', async () => {
    const cases: Record<string, string>[] = [
      { nonce: 'x'.repeat(256) },
      { claims: '{"id_token":' },
      { claims: '["id_token"]' },
      { claims: '{"id_token":{"email":true}}' },
      { claims: '{"userinfo":"email"}' },
    ]
    for (const extra of cases) {
      const p = pkce()
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: web.client_id,
        redirect_uri: REDIRECT,
        code_challenge: p.challenge,
        code_challenge_method: 'S256',
        scope: 'openid',
        state: 'st-1',
        ...extra,
      })
      const res = await new Browser(server.url).get(`/authorize?${query.toString()}`)
      assert.equal(res.status, 303, JSON.stringify(extra))
      const location = new URL(String(res.headers.location))
      assert.equal(location.origin + location.pathname, REDIRECT)
      assert.equal(location.searchParams.get('error'), 'invalid_request', JSON.stringify(extra))
      assert.equal(location.searchParams.get('state'), 'st-1')
    }
    const longest = await signIn(web, 'openid', { nonce: 'y'.repeat(255) })
    assert.equal((await verify(longest.tokens.id_token, web.client_id)).nonce, 'y'.repeat(255))
  })

  it('puts the profile claims the claims parameter asks for in the ID token only when their scope was granted', async () => {
    const claims = JSON.stringify({
      id_token: { email: { essential: true }, name: null, unheard_of: null },
      userinfo: { email: null },
    })
    const withEmail = await signIn(web, 'openid email', { claims })
    const emailOnly = await verify(withEmail.tokens.id_token, web.client_id)
    assert.equal(emailOnly.email, EMAIL)
    assert.equal(emailOnly.email_verified, undefined, 'not asked for')
    assert.equal(emailOnly.name, undefined, 'profile scope not granted')
    assert.equal(emailOnly.unheard_of, undefined)
    // The refresh's ID token keeps what the request asked for.
    const refreshed = await refresh(web, withEmail.tokens.refresh_token)
    assert.equal((await verify(refreshed.id_token, web.client_id)).email, EMAIL)

    const withProfile = await signIn(web, 'openid profile', { claims })
    const nameOnly = await verify(withProfile.tokens.id_token, web.client_id)
    assert.equal(nameOnly.name, NAME)
    assert.equal(nameOnly.email, undefined, 'email scope not granted')
  })

  it('signs new ID tokens with the new RS256 key after keys rotate --alg RS256, and old ones still verify', async () => {
    const old = await signIn(web, 'openid')
    const oldKid = decodeProtectedHeader(String(old.tokens.id_token)).kid
    const accessKid = decodeProtectedHeader(String(old.tokens.access_token)).kid
    const rotated = cli([
      'keys',
      'rotate',
      '--db',
      server.db,
      '--alg',
      'RS256',
      '--activate-in',
      '0',
    ])
    assert.equal(rotated.status, 0, rotated.stderr)
    const newKid = (rotated.json as { kid: string; alg: string }).kid
    assert.equal((rotated.json as { alg: string }).alg, 'RS256')
    // The server re-reads its keys every second.
    let fresh = await refresh(web, old.tokens.refresh_token)
    for (let i = 0; decodeProtectedHeader(String(fresh.id_token)).kid !== newKid && i < 100; i++) {
      await sleep(100)
      fresh = await refresh(web, fresh.refresh_token)
    }
    assert.equal(decodeProtectedHeader(String(fresh.id_token)).kid, newKid, 'within 10 s')
    assert.notEqual(newKid, oldKid)
    assert.equal(
      decodeProtectedHeader(String(fresh.access_token)).kid,
      accessKid,
      'the access-token (ES256) key is not rotated by an RS256 rotation',
    )
    const set = (await server.get('/.well-known/jwks.json')).json as unknown as JSONWebKeySet
    const local = createLocalJWKSet(set)
    for (const token of [old.tokens.id_token, fresh.id_token]) {
      const { payload } = await jwtVerify(String(token), local, {
        issuer: server.url,
        audience: web.client_id,
      })
      assert.equal(payload.sub, userId)
    }
    const listed = cli(['keys', 'list', '--db', server.db]).json as { kid: string; state: string }[]
    const states = new Map(listed.map((k) => [k.kid, k.state]))
    assert.equal(states.get(oldKid!), 'superseded')
    assert.equal(states.get(newKid), 'active')
    assert.equal(states.get(accessKid!), 'active')
  })

  it('publishes the OpenID provider configuration at /.well-known/openid-configuration', async () => {
    const res = await server.get('/.well-known/openid-configuration')
    assert.equal(res.status, 200)
    const oauthMd = (await server.get('/.well-known/oauth-authorization-server')).json
    const md = res.json
    for (const [field, value] of Object.entries(oauthMd)) {
      assert.deepEqual(md[field], value, `${field} as in the OAuth metadata`)
    }
    assert.equal(md.issuer, server.url)
    assert.equal(md.userinfo_endpoint, `${server.url}/userinfo`)
    for (const scope of ['openid', 'profile', 'email']) {
      assert.ok((md.scopes_supported as string[]).includes(scope), scope)
    }
    assert.deepEqual(md.response_types_supported, ['code'])
    assert.deepEqual(md.subject_types_supported, ['public'])
    const algs = md.id_token_signing_alg_values_supported as string[]
    assert.ok(algs.includes('RS256') && algs.includes('ES256'), algs.join())
    for (const claim of ['sub', 'iss', 'auth_time', 'nonce', 'at_hash', 'sid', 'email', 'name']) {
      assert.ok((md.claims_supported as string[]).includes(claim), claim)
    }
    assert.equal(md.claims_parameter_supported, true)
    assert.equal(md.request_parameter_supported, false)
  })

  it('is accepted by oauth4webapi: discovery, the code response with its nonce, the ID token', async () => {
    const insecure = { [oauth.allowInsecureRequests]: true }
    const issuer = new URL(server.url)
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }),
    )
    const client: oauth.Client = { client_id: web.client_id }
    const auth = oauth.ClientSecretBasic(web.client_secret)
    const p = pkce()
    const nonce = oauth.generateRandomNonce()
    const state = oauth.generateRandomState()
    const landed = await authorize(
      new Browser(server.url),
      {
        clientId: web.client_id,
        redirectUri: REDIRECT,
        challenge: p.challenge,
        scope: 'openid email',
        state,
        extra: { nonce },
      },
      USER,
    )
    const params = oauth.validateAuthResponse(as, client, landed, state)
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      auth,
      params,
      REDIRECT,
      p.verifier,
      insecure,
    )
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: nonce,
      requireIdToken: true,
    })
    const claims = oauth.getValidatedIdTokenClaims(result)
    assert.equal(claims?.sub, userId)
    assert.equal(claims?.nonce, nonce)

    // A wrong nonce is caught by the relying party: the server echoed the one it was sent.
    const again = await authorize(
      new Browser(server.url),
      {
        clientId: web.client_id,
        redirectUri: REDIRECT,
        challenge: p.challenge,
        scope: 'openid',
        state,
        extra: { nonce: 'another' },
      },
      USER,
    )
    const wrong = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      auth,
      oauth.validateAuthResponse(as, client, again, state),
      REDIRECT,
      p.verifier,
      insecure,
    )
    await assert.rejects(
      oauth.processAuthorizationCodeResponse(as, client, wrong, { expectedNonce: nonce }),
    )
  })

  it('is accepted by openid-client: discovery, the code grant with nonce and state, a refresh', async () => {
    const config = await openid.discovery(
      new URL(server.url),
      es.client_id,
      es.client_secret,
      undefined,
      { execute: [openid.allowInsecureRequests] },
    )
    const verifier = openid.randomPKCECodeVerifier()
    const nonce = openid.randomNonce()
    const state = openid.randomState()
    const url = openid.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid email',
      code_challenge: await openid.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state,
    })
    // The browser: the login page, the form posted, the redirect followed.
    const browser = new Browser(server.url)
    let res = await browser.get(url.pathname + url.search)
    assert.equal(res.status, 200, res.text)
    res = await browser.postForm(formAction(res.text) ?? '/authorize', {
      ...formFields(res.text),
      ...USER,
    })
    const landed = new URL(String(res.headers.location))
    const tokens = await openid.authorizationCodeGrant(config, landed, {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: state,
      idTokenExpected: true,
    })
    const claims = tokens.claims()
    assert.equal(claims?.sub, userId)
    assert.equal(claims?.nonce, nonce)
    assert.equal(decodeProtectedHeader(String(tokens.id_token)).alg, 'ES256')
    const refreshed = await openid.refreshTokenGrant(config, String(tokens.refresh_token))
    assert.equal(refreshed.claims()?.sub, userId)
    assert.equal(refreshed.claims()?.auth_time, claims?.auth_time)
  })

  it('refuses client create --id-token-signed-response-alg with an alg the server has no key for', () => {
    const base = ['client', 'create', '--db', server.db, '--grant', 'authorization_code']
    const redirect = ['--redirect-uri', REDIRECT]
    for (const [id, alg] of [
      ['bad-hs', 'HS256'],
      ['bad-none', 'none'],
      ['no-key', 'PS256'],
    ] as const) {
      const res = cli([...base, '--id', id, ...redirect, '--id-token-signed-response-alg', alg])
      assert.notEqual(res.status, 0, alg)
      assert.equal(res.stderr.trimEnd().split('\n').length, 1, res.stderr)
    }
    const shown = cli(['client', 'show', '--db', server.db, '--id', es.client_id])
    assert.equal((shown.json as Record<string, unknown>).id_token_signed_response_alg, 'ES256')
    const plain = cli(['client', 'show', '--db', server.db, '--id', web.client_id])
    assert.equal((plain.json as Record<string, unknown>).id_token_signed_response_alg, 'RS256')
  })
})

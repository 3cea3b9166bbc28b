/**
 * Latchkey as an OpenID Connect provider for an off-the-shelf relying party: openid-client (in
 * OpenID Connect mode) discovers the server (Discovery 1.0 §4), runs the code flow with PKCE, `state`
 * and `nonce`, validates the ID token as the library does for every provider (OIDC Core §3.1.3.7:
 * signature from the discovered JWKS, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, `auth_time`),
 * reads userinfo, refreshes, and logs out (RP-Initiated Logout 1.0) with the ID token as hint; the
 * session it ended then refuses its refresh token, and a client registered for Back-Channel Logout
 * 1.0 receives the logout token. A public client (no secret, PKCE only) does the same code flow.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import * as oidc from 'openid-client'
import { Browser } from '../helpers/browser.js'
import {
  cli,
  createClient,
  freePort,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

const USER = { username: 'alice', password: 'correct horse battery' }
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

/** The login form's fields read from the page, the credentials added. */
function loginForm(html: string): Record<string, string> {
  const form = /<form[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(html)
  assert.ok(form, 'the page has a <form method="post">')
  const fields: Record<string, string> = {}
  for (const tag of form[1]!.match(/<input[^>]*>/gi) ?? []) {
    const name = /\sname="([^"]*)"/i.exec(tag)?.[1]
    const value = /\svalue="([^"]*)"/i.exec(tag)?.[1] ?? ''
    if (name !== undefined) fields[name] = value.replace(/&amp;/g, '&').replace(/&quot;/g, '"')
  }
  return { ...fields, ...USER }
}

/** The action of the page's POST form (the issuer may have a path). */
function formActionOf(html: string): string {
  const action = /<form[^>]*method="post"[^>]*\saction="([^"]*)"/i.exec(html)?.[1]
  assert.ok(action, 'the form has an action')
  return action.replace(/&amp;/g, '&')
}

describe('openid-client against Latchkey (OpenID Connect mode)', () => {
  let server: TestServer
  let rpPort: number
  let rp: Server
  let confidential: CreatedClient
  /** Logout tokens received by the back-channel URI, with when they arrived. */
  const logoutTokens: { token: string; at: number }[] = []
  let redirectUri: string
  let postLogoutUri: string
  let userId: string

  before(async () => {
    server = await startServer()
    rpPort = await freePort()
    const base = `http://127.0.0.1:${rpPort}`
    redirectUri = `${base}/cb`
    postLogoutUri = `${base}/signed-out`
    rp = createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/backchannel') {
        let body = ''
        req.on('data', (c: Buffer) => (body += c.toString()))
        req.on('end', () => {
          const token = new URLSearchParams(body).get('logout_token')
          if (token) logoutTokens.push({ token, at: Date.now() })
          res.writeHead(200).end()
        })
        return
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
    })
    await new Promise<void>((resolve) => rp.listen(rpPort, '127.0.0.1', resolve))
    confidential = createClient(
      server.db,
      'rp',
      ...['--grant', 'authorization_code', '--grant', 'refresh_token'],
      ...['--redirect-uri', redirectUri, '--scope', 'openid profile email'],
      ...['--post-logout-redirect-uri', postLogoutUri],
      ...['--backchannel-logout-uri', `${base}/backchannel`],
    )
    createClient(
      server.db,
      'spa',
      ...['--grant', 'authorization_code', '--auth-method', 'none'],
      ...['--redirect-uri', redirectUri, '--scope', 'openid email'],
    )
    const created = cli(
      [
        ...['user', 'create', '--db', server.db, '--username', USER.username],
        ...['--email', 'alice@example.com', '--email-verified'],
        ...['--name', 'Alice Liddell', '--given-name', 'Alice', '--family-name', 'Liddell'],
      ],
      { input: `${USER.password}\n` },
    )
    assert.equal(created.status, 0, created.stderr)
    userId = (created.json as { id: string }).id
  })

  after(async () => {
    await new Promise<void>((resolve) => rp.close(() => resolve()))
    await server?.dispose()
  })

  /** Discovery as the library does it, over plain http on loopback. */
  function discover(clientId: string, secret?: string): Promise<oidc.Configuration> {
    return oidc.discovery(
      new URL(server.url),
      clientId,
      secret,
      secret === undefined ? oidc.None() : undefined,
      { execute: [oidc.allowInsecureRequests] },
    )
  }

  /** Runs the browser part of the code flow: the login form when needed; returns the callback URL. */
  async function signIn(browser: Browser, url: URL): Promise<URL> {
    let res = await browser.get(url.pathname + url.search)
    if (res.status === 200) {
      res = await browser.postForm(formActionOf(res.text), loginForm(res.text))
    }
    assert.equal(res.status, 303, res.text.slice(0, 300))
    return new URL(res.headers.location!)
  }

  it('discovers the provider with its OpenID Connect metadata', async () => {
    const config = await discover('rp', confidential.client_secret)
    const meta = config.serverMetadata()
    assert.equal(meta.issuer, server.url)
    assert.ok(meta.scopes_supported?.includes('openid'))
    assert.ok(meta.id_token_signing_alg_values_supported?.includes('RS256'))
    assert.equal(meta.userinfo_endpoint, `${server.url}/userinfo`)
    assert.equal(meta.end_session_endpoint, `${server.url}/logout`)
    assert.deepEqual(meta.subject_types_supported, ['public'])
    assert.equal(meta.backchannel_logout_supported, true)
  })

  it('runs the code flow with PKCE and nonce, userinfo, refresh and logout', async () => {
    const config = await discover('rp', confidential.client_secret)
    const browser = new Browser(server.url)
    const verifier = oidc.randomPKCECodeVerifier()
    const nonce = oidc.randomNonce()
    const state = oidc.randomState()
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state,
    })
    const callback = await signIn(browser, url)

    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: state,
      idTokenExpected: true,
    })
    const claims = tokens.claims()
    assert.ok(claims, 'an ID token came with the tokens')
    assert.equal(claims.sub, userId)
    assert.equal(claims.nonce, nonce)
    assert.equal(claims.aud, 'rp')
    assert.equal(typeof claims.auth_time, 'number')
    assert.equal(typeof claims.sid, 'string')
    assert.equal(typeof claims.at_hash, 'string')
    assert.ok(tokens.refresh_token, 'a refresh token without offline_access')

    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)
    assert.equal(info.email, 'alice@example.com')
    assert.equal(info.email_verified, true)
    assert.equal(info.name, 'Alice Liddell')

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token)
    assert.ok(refreshed.access_token)
    const again = refreshed.claims()
    assert.ok(again, 'the refresh response has a new ID token')
    assert.equal(again.sub, claims.sub)
    assert.equal(again.auth_time, claims.auth_time)
    assert.equal(again.nonce, undefined)

    // Logout, as the library builds it: the ID token as hint, a registered return address, state.
    const logoutState = oidc.randomState()
    const endSession = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: postLogoutUri,
      state: logoutState,
    })
    const loggedOutAt = Date.now()
    const res = await browser.get(endSession.pathname + endSession.search)
    assert.equal(res.status, 303, res.text.slice(0, 300))
    const back = new URL(res.headers.location!)
    assert.equal(back.origin + back.pathname, postLogoutUri)
    assert.equal(back.searchParams.get('state'), logoutState)

    // The session ended with the login: its refresh token is refused.
    await assert.rejects(
      oidc.refreshTokenGrant(config, refreshed.refresh_token!),
      (err: unknown) => (err as { error?: string }).error === 'invalid_grant',
    )
    // And the browser must sign in again.
    const relogin = await browser.get(url.pathname + url.search)
    assert.equal(relogin.status, 200)
    assert.match(relogin.text, /name="password"/)

    // The back-channel URI got one logout token for that session, signed by the provider.
    const deadline = Date.now() + 5_000
    while (logoutTokens.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25))
    }
    assert.equal(logoutTokens.length, 1, 'one logout token within 5 s')
    const received = logoutTokens[0]!
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!))
    const { payload, protectedHeader } = await jwtVerify(received.token, jwks, {
      issuer: server.url,
      audience: 'rp',
      typ: 'logout+jwt',
    })
    assert.equal(payload.sid, claims.sid)
    assert.equal(payload.sub, claims.sub)
    assert.deepEqual(payload.events, { [BACKCHANNEL_EVENT]: {} })
    assert.equal(payload.nonce, undefined)
    assert.ok(protectedHeader.kid)
    process.stdout.write(
      `# back-channel logout delivered ${received.at - loggedOutAt} ms after logout\n`,
    )
  })

  it('serves a public client the same code flow with PKCE only', async () => {
    const config = await discover('spa')
    const browser = new Browser(server.url)
    const verifier = oidc.randomPKCECodeVerifier()
    const nonce = oidc.randomNonce()
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
    })
    const callback = await signIn(browser, url)
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      idTokenExpected: true,
    })
    assert.equal(tokens.claims()?.sub, userId)
    assert.equal(tokens.claims()?.aud, 'spa')
    const info = await oidc.fetchUserInfo(config, tokens.access_token, userId)
    assert.equal(info.email, 'alice@example.com')
    assert.equal(info.name, undefined, 'no profile scope, no name')
  })

  it('is refused with the nonce of another request', async () => {
    const config = await discover('rp', confidential.client_secret)
    const browser = new Browser(server.url)
    const verifier = oidc.randomPKCECodeVerifier()
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce: oidc.randomNonce(),
      state: 'x',
    })
    const callback = await signIn(browser, url)
    await assert.rejects(
      oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedNonce: oidc.randomNonce(),
        expectedState: 'x',
      }),
      // openid-client wraps oauth4webapi's error, which names the claim.
      (err: unknown) => /"nonce"/.test(String((err as { cause?: unknown }).cause)),
    )
  })
})

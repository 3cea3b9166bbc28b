/**
 * DPoP (RFC 9449) end to end against a real server, driven by a real client library (`oauth4webapi`'s
 * DPoP handles): client credentials with JWT and opaque access tokens bound to the client's key
 * (`cnf.jkt`, `token_type: DPoP`, introspection reporting both), the code flow and refresh of a public
 * client whose refresh token is bound to its key, userinfo with the DPoP scheme, and an API protected
 * by the verifier SDK's Express middleware pointed at the server. Proofs that are replayed, for another
 * URL or method, stale, missing where required or sent twice are refused at the token endpoint with
 * `invalid_dpop_proof`; a bad proof never spends a code. `--require-dpop`, and the server nonces of
 * `LATCHKEY_DPOP_NONCE` (oauth4webapi retries once with the nonce given).
 */
import assert from 'node:assert/strict'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import * as jose from 'jose'
import * as oauth from 'oauth4webapi'
import { createVerifier, type VerifiedClaims } from '@latchkey/verifier'
import { accessTokenHash } from '@latchkey/verifier/dpop'
import { expressBearerAuth } from '@latchkey/verifier/express'
import { authorize, Browser, pkce } from '../helpers/browser.js'
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
const AUDIENCE = 'https://orders.example'
const USER = { username: 'alice', password: 'correct horse battery' }
const insecure = { [oauth.allowInsecureRequests]: true }

type KeyPair = Awaited<ReturnType<typeof oauth.generateKeyPair>>

/** A DPoP key made by jose, with its thumbprint, for hand-made proofs. */
interface Key {
  privateKey: jose.CryptoKey
  jwk: jose.JWK
  jkt: string
}

async function newKey(): Promise<Key> {
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true })
  const jwk = await jose.exportJWK(publicKey)
  return { privateKey, jwk, jkt: await jose.calculateJwkThumbprint(jwk, 'sha256') }
}

/** A proof signed by `key`; `claims` override the defaults (iat now, a fresh jti). */
function proof(
  key: Key,
  htm: string,
  htu: string,
  claims: Record<string, unknown> = {},
): Promise<string> {
  return new jose.SignJWT({ jti: crypto.randomUUID(), htm, htu, ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .setIssuedAt(typeof claims.iat === 'number' ? claims.iat : undefined)
    .sign(key.privateKey)
}

const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString()

/** The error code of a token endpoint answer, checked to be a 400. */
function errorOf(res: HttpResponse): unknown {
  assert.equal(res.status, 400, res.text)
  return res.json.error
}

/** The ResponseBodyError code oauth4webapi rejects with. */
async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError) return err.error
    throw err
  }
  assert.fail('expected a refusal')
}

describe('DPoP (RFC 9449) from the token endpoint to the API', () => {
  let server: TestServer
  let as: oauth.AuthorizationServer
  let svc: CreatedClient
  let opaque: CreatedClient
  let api: CreatedClient
  let strict: CreatedClient
  let web: CreatedClient
  let tokenUrl: string

  before(async () => {
    server = await startServer()
    tokenUrl = `${server.url}/token`
    svc = createClient(
      server.db,
      'svc',
      '--grant',
      'client_credentials',
      '--scope',
      'orders:read',
      '--audience',
      AUDIENCE,
    )
    opaque = createClient(
      server.db,
      'svc-opaque',
      '--grant',
      'client_credentials',
      '--access-token-format',
      'opaque',
    )
    api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    strict = createClient(server.db, 'strict', '--grant', 'client_credentials', '--require-dpop')
    web = createClient(
      server.db,
      'web',
      ...['--grant', 'authorization_code', '--grant', 'refresh_token', '--redirect-uri', REDIRECT],
      ...['--scope', 'openid profile'],
    )
    const spa = cli([
      'client',
      'create',
      '--db',
      server.db,
      '--id',
      'spa',
      '--public',
      '--grant',
      'authorization_code',
      '--grant',
      'refresh_token',
      '--redirect-uri',
      REDIRECT,
      '--scope',
      'openid profile',
    ])
    assert.equal(spa.status, 0, spa.stderr)
    createUser(server.db, USER)
    as = await oauth.processDiscoveryResponse(
      new URL(server.url),
      await oauth.discoveryRequest(new URL(server.url), { algorithm: 'oauth2', ...insecure }),
    )
  })
  after(() => server.dispose())

  /** A client-credentials token for `client` with a DPoP handle of `keyPair`. */
  async function clientToken(
    client: CreatedClient,
    keyPair: KeyPair,
  ): Promise<oauth.TokenEndpointResponse> {
    const c: oauth.Client = { client_id: client.client_id }
    const DPoP = oauth.DPoP(c, keyPair)
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      c,
      oauth.ClientSecretBasic(client.client_secret),
      {},
      { DPoP, ...insecure },
    )
    return oauth.processClientCredentialsResponse(as, c, response)
  }

  async function introspect(token: string): Promise<Record<string, unknown>> {
    const res = await server.post('/introspect', { token }, [api.client_id, api.client_secret])
    assert.equal(res.status, 200, res.text)
    return res.json
  }

  it('binds a client-credentials JWT to the key: token_type DPoP, cnf.jkt, introspection says so', async () => {
    const keyPair = await oauth.generateKeyPair('ES256')
    const jkt = await oauth
      .DPoP({ client_id: 'svc' } as oauth.Client, keyPair)
      .calculateThumbprint()
    const answer = await clientToken(svc, keyPair)
    assert.equal(answer.token_type, 'dpop')
    const claims = jose.decodeJwt(answer.access_token)
    assert.deepEqual(claims.cnf, { jkt })
    const seen = await introspect(answer.access_token)
    assert.equal(seen.active, true)
    assert.equal(seen.token_type, 'DPoP')
    assert.deepEqual(seen.cnf, { jkt })
  })

  it('binds an opaque token: introspection reports cnf.jkt and token_type DPoP', async () => {
    const keyPair = await oauth.generateKeyPair('ES256')
    const jkt = await oauth
      .DPoP({ client_id: 'svc-opaque' } as oauth.Client, keyPair)
      .calculateThumbprint()
    const answer = await clientToken(opaque, keyPair)
    assert.equal(answer.token_type, 'dpop')
    assert.ok(!answer.access_token.includes('.'), 'an opaque token')
    const seen = await introspect(answer.access_token)
    assert.equal(seen.token_type, 'DPoP')
    assert.deepEqual(seen.cnf, { jkt })
  })

  it('still issues bearer tokens without a proof', async () => {
    const res = await server.post('/token', { grant_type: 'client_credentials' }, [
      svc.client_id,
      svc.client_secret,
    ])
    assert.equal(res.status, 200, res.text)
    assert.equal(res.json.token_type, 'Bearer')
    assert.equal(jose.decodeJwt(String(res.json.access_token)).cnf, undefined)
    const seen = await introspect(String(res.json.access_token))
    assert.equal(seen.token_type, 'Bearer')
    assert.equal(seen.cnf, undefined)
  })

  /** A client-credentials request of `svc` with `headers` (the DPoP header or several). */
  function tokenRequest(headers: Record<string, string | string[]>): Promise<HttpResponse> {
    return request(tokenUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(svc.client_id, svc.client_secret),
        ...(headers as Record<string, string>),
      },
      body: form({ grant_type: 'client_credentials' }),
    })
  }

  it('refuses replayed, wrong-URL, wrong-method, stale, future and doubled proofs with invalid_dpop_proof', async () => {
    const key = await newKey()
    const good = await proof(key, 'POST', tokenUrl)
    const first = await tokenRequest({ dpop: good })
    assert.equal(first.status, 200, first.text)
    assert.equal(first.json.token_type, 'DPoP')
    assert.equal(errorOf(await tokenRequest({ dpop: good })), 'invalid_dpop_proof', 'replayed')
    const now = Math.floor(Date.now() / 1000)
    const bad: Record<string, string> = {
      'another URL': await proof(key, 'POST', `${server.url}/introspect`),
      'another host': await proof(key, 'POST', 'https://evil.example/token'),
      'another method': await proof(key, 'GET', tokenUrl),
      stale: await proof(key, 'POST', tokenUrl, { iat: now - 120 }),
      'from the future': await proof(key, 'POST', tokenUrl, { iat: now + 120 }),
      'not a JWS': 'not-a-proof',
    }
    for (const [what, dpop] of Object.entries(bad)) {
      const res = await tokenRequest({ dpop })
      assert.equal(errorOf(res), 'invalid_dpop_proof', what)
      assert.equal(res.headers['cache-control'], 'no-store')
    }
    const twice = await tokenRequest({
      dpop: [await proof(key, 'POST', tokenUrl), await proof(key, 'POST', tokenUrl)],
    })
    assert.equal(errorOf(twice), 'invalid_dpop_proof', 'two DPoP headers')
  })

  it('refuses a --require-dpop client without a proof, and binds its tokens with one', async () => {
    const res = await server.post('/token', { grant_type: 'client_credentials' }, [
      strict.client_id,
      strict.client_secret,
    ])
    assert.equal(errorOf(res), 'invalid_dpop_proof')
    const shown = cli(['client', 'show', '--db', server.db, '--id', 'strict'])
    assert.equal(shown.status, 0, shown.stderr)
    assert.equal((shown.json as Record<string, unknown>).dpop_bound_access_tokens, true)
    const answer = await clientToken(strict, await oauth.generateKeyPair('ES256'))
    assert.equal(answer.token_type, 'dpop')
  })

  /** Signs alice in for `clientId` and returns the callback parameters and PKCE verifier. */
  async function code(clientId = 'spa'): Promise<{ params: URLSearchParams; verifier: string }> {
    const p = pkce()
    const landed = await authorize(
      new Browser(server.url),
      { clientId, redirectUri: REDIRECT, scope: 'openid profile', challenge: p.challenge },
      USER,
    )
    const params = oauth.validateAuthResponse(as, { client_id: clientId }, landed, 'st')
    return { params, verifier: p.verifier }
  }

  it('binds a public client code flow and its refresh token: refresh needs the same key; userinfo takes DPoP', async () => {
    const spa: oauth.Client = { client_id: 'spa' }
    const keyPair = await oauth.generateKeyPair('ES256')
    const DPoP = oauth.DPoP(spa, keyPair)
    const jkt = await DPoP.calculateThumbprint()

    // A bad proof first: refused, and the code is not spent.
    const { params, verifier } = await code()
    const bad = await request(tokenUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        dpop: await proof(await newKey(), 'POST', `${server.url}/elsewhere`),
      },
      body: form({
        grant_type: 'authorization_code',
        client_id: 'spa',
        code: params.get('code')!,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      }),
    })
    assert.equal(errorOf(bad), 'invalid_dpop_proof')

    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      spa,
      await oauth.authorizationCodeGrantRequest(as, spa, oauth.None(), params, REDIRECT, verifier, {
        DPoP,
        ...insecure,
      }),
    )
    assert.equal(tokens.token_type, 'dpop')
    assert.deepEqual(jose.decodeJwt(tokens.access_token).cnf, { jkt })
    assert.equal(typeof tokens.refresh_token, 'string')

    // Userinfo: DPoP scheme with a proof of the key; the bound token as a bearer token is refused.
    const info = await oauth.userInfoRequest(as, spa, tokens.access_token, { DPoP, ...insecure })
    assert.equal(info.status, 200)
    const asBearer = await request(`${server.url}/userinfo`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(asBearer.status, 401)
    assert.match(String(asBearer.headers['www-authenticate']), /^DPoP /)
    assert.match(String(asBearer.headers['www-authenticate']), /error="invalid_token"/)
    const otherKey = await newKey()
    const wrongKey = await request(`${server.url}/userinfo`, {
      headers: {
        authorization: `DPoP ${tokens.access_token}`,
        dpop: await proof(otherKey, 'GET', `${server.url}/userinfo`, {
          ath: accessTokenHash(tokens.access_token),
        }),
      },
    })
    assert.equal(wrongKey.status, 401)
    assert.match(String(wrongKey.headers['www-authenticate']), /error="invalid_dpop_proof"/)

    // Another key cannot refresh: invalid_grant, and the token still works afterwards.
    const thief = oauth.DPoP(spa, await oauth.generateKeyPair('ES256'))
    const stolen = oauth.refreshTokenGrantRequest(as, spa, oauth.None(), tokens.refresh_token!, {
      DPoP: thief,
      ...insecure,
    })
    assert.equal(
      await rejection(stolen.then((r) => oauth.processRefreshTokenResponse(as, spa, r))),
      'invalid_grant',
    )
    const noProof = await request(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({
        grant_type: 'refresh_token',
        client_id: 'spa',
        refresh_token: tokens.refresh_token!,
      }),
    })
    assert.equal(errorOf(noProof), 'invalid_grant')

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      spa,
      await oauth.refreshTokenGrantRequest(as, spa, oauth.None(), tokens.refresh_token!, {
        DPoP,
        ...insecure,
      }),
    )
    assert.equal(refreshed.token_type, 'dpop')
    assert.deepEqual(jose.decodeJwt(refreshed.access_token).cnf, { jkt })
    // The successor is bound too.
    const again = oauth.refreshTokenGrantRequest(as, spa, oauth.None(), refreshed.refresh_token!, {
      DPoP: thief,
      ...insecure,
    })
    assert.equal(
      await rejection(again.then((r) => oauth.processRefreshTokenResponse(as, spa, r))),
      'invalid_grant',
    )
  })

  it('binds a code to the key named by dpop_jkt: redeemed only with a proof of that key (RFC 9449 §10)', async () => {
    const spa: oauth.Client = { client_id: 'spa' }
    const DPoP = oauth.DPoP(spa, await oauth.generateKeyPair('ES256'))
    const jkt = await DPoP.calculateThumbprint()
    const codeFor = async (): Promise<{ params: URLSearchParams; verifier: string }> => {
      const p = pkce()
      const landed = await authorize(
        new Browser(server.url),
        {
          clientId: 'spa',
          redirectUri: REDIRECT,
          challenge: p.challenge,
          extra: { dpop_jkt: jkt },
        },
        USER,
      )
      return { params: oauth.validateAuthResponse(as, spa, landed, 'st'), verifier: p.verifier }
    }
    const redeem = (c: { params: URLSearchParams; verifier: string }, handle: oauth.DPoPHandle) =>
      oauth
        .authorizationCodeGrantRequest(as, spa, oauth.None(), c.params, REDIRECT, c.verifier, {
          DPoP: handle,
          ...insecure,
        })
        .then((r) => oauth.processAuthorizationCodeResponse(as, spa, r))
    const other = oauth.DPoP(spa, await oauth.generateKeyPair('ES256'))
    assert.equal(await rejection(redeem(await codeFor(), other)), 'invalid_grant')
    const tokens = await redeem(await codeFor(), DPoP)
    assert.deepEqual(jose.decodeJwt(tokens.access_token).cnf, { jkt })
    // A malformed dpop_jkt is refused at the authorization endpoint (to the redirect URI).
    const p = pkce()
    const landed = await authorize(
      new Browser(server.url),
      { clientId: 'spa', redirectUri: REDIRECT, challenge: p.challenge, extra: { dpop_jkt: 'x' } },
      USER,
    ).catch((err: unknown) => err)
    const error =
      landed instanceof URL ? landed.searchParams.get('error') : String((landed as Error).message)
    assert.match(String(error), /invalid_request/)
  })

  it('leaves a confidential client refresh token unbound while its access tokens are bound', async () => {
    const c: oauth.Client = { client_id: web.client_id }
    const auth = oauth.ClientSecretBasic(web.client_secret)
    const DPoP = oauth.DPoP(c, await oauth.generateKeyPair('ES256'))
    const { params, verifier } = await code(web.client_id)
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      c,
      await oauth.authorizationCodeGrantRequest(as, c, auth, params, REDIRECT, verifier, {
        DPoP,
        ...insecure,
      }),
    )
    assert.equal(tokens.token_type, 'dpop')
    assert.deepEqual(jose.decodeJwt(tokens.access_token).cnf, {
      jkt: await DPoP.calculateThumbprint(),
    })
    // RFC 9449 §5: a confidential client's refresh token is not bound; without a proof, a bearer token.
    const res = await server.post(
      '/token',
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
      [web.client_id, web.client_secret],
    )
    assert.equal(res.status, 200, res.text)
    assert.equal(res.json.token_type, 'Bearer')
    assert.equal(jose.decodeJwt(String(res.json.access_token)).cnf, undefined)
  })

  it('calls an API behind the SDK middleware with a bound token and a proof; as bearer it is refused', async () => {
    const verifier = createVerifier({
      issuer: server.url,
      audience: AUDIENCE,
      clientId: api.client_id,
      clientSecret: api.client_secret,
    })
    const app = express()
    app.get('/orders', expressBearerAuth(verifier)('orders:read'), (_req, res) => {
      res.json({ sub: (res.locals.latchkey as VerifiedClaims).sub })
    })
    const apiServer = await new Promise<Server>((ok) => {
      const s = app.listen(0, '127.0.0.1', () => ok(s))
    })
    try {
      const url = new URL(`http://127.0.0.1:${(apiServer.address() as AddressInfo).port}/orders`)
      const keyPair = await oauth.generateKeyPair('ES256')
      const c: oauth.Client = { client_id: svc.client_id }
      const DPoP = oauth.DPoP(c, keyPair)
      const response = await oauth.clientCredentialsGrantRequest(
        as,
        c,
        oauth.ClientSecretBasic(svc.client_secret),
        {},
        { DPoP, ...insecure },
      )
      const { access_token: token } = await oauth.processClientCredentialsResponse(as, c, response)
      const ok = await oauth.protectedResourceRequest(token, 'GET', url, undefined, undefined, {
        DPoP,
        ...insecure,
      })
      assert.equal(ok.status, 200)
      assert.deepEqual(await ok.json(), { sub: 'svc' })
      const asBearer = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
      assert.equal(asBearer.status, 401)
      assert.match(String(asBearer.headers.get('www-authenticate')), /^DPoP /)
    } finally {
      await new Promise((ok) => apiServer.close(ok))
      verifier.close()
    }
  })
})

describe('DPoP server nonces (LATCHKEY_DPOP_NONCE)', () => {
  let server: TestServer
  let as: oauth.AuthorizationServer
  let svc: CreatedClient

  before(async () => {
    server = await startServer({ env: { LATCHKEY_DPOP_NONCE: 'true' } })
    svc = createClient(server.db, 'svc', '--grant', 'client_credentials')
    as = await oauth.processDiscoveryResponse(
      new URL(server.url),
      await oauth.discoveryRequest(new URL(server.url), { algorithm: 'oauth2', ...insecure }),
    )
  })
  after(() => server.dispose())

  it('answers a proof without nonce with use_dpop_nonce and a DPoP-Nonce; oauth4webapi retries once', async () => {
    const c: oauth.Client = { client_id: svc.client_id }
    const DPoP = oauth.DPoP(c, await oauth.generateKeyPair('ES256'))
    const ask = () =>
      oauth
        .clientCredentialsGrantRequest(
          as,
          c,
          oauth.ClientSecretBasic(svc.client_secret),
          {},
          {
            DPoP,
            ...insecure,
          },
        )
        .then((r) => oauth.processClientCredentialsResponse(as, c, r))
    let retried = false
    let answer: oauth.TokenEndpointResponse
    try {
      answer = await ask()
    } catch (err) {
      assert.ok(oauth.isDPoPNonceError(err), String(err))
      retried = true
      answer = await ask()
    }
    assert.ok(retried, 'the first proof, without a nonce, is refused')
    assert.equal(answer.token_type, 'dpop')
    // The nonce keeps working for the next requests: no retry.
    const next = await ask()
    assert.equal(next.token_type, 'dpop')
  })

  it('refuses a made-up nonce with use_dpop_nonce and a fresh DPoP-Nonce header', async () => {
    const key = await newKey()
    const res = await request(`${server.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(svc.client_id, svc.client_secret),
        dpop: await proof(key, 'POST', `${server.url}/token`, { nonce: 'made-up' }),
      },
      body: form({ grant_type: 'client_credentials' }),
    })
    assert.equal(errorOf(res), 'use_dpop_nonce')
    const nonce = String(res.headers['dpop-nonce'])
    assert.match(nonce, /^[A-Za-z0-9_-]{43}$/)
    const ok = await request(`${server.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(svc.client_id, svc.client_secret),
        dpop: await proof(key, 'POST', `${server.url}/token`, { nonce }),
      },
      body: form({ grant_type: 'client_credentials' }),
    })
    assert.equal(ok.status, 200, ok.text)
    assert.equal(ok.json.token_type, 'DPoP')
    // Requests without DPoP need no nonce.
    const bearer = await server.post('/token', { grant_type: 'client_credentials' }, [
      svc.client_id,
      svc.client_secret,
    ])
    assert.equal(bearer.status, 200, bearer.text)
  })
})

describe('DPoP under an issuer with a path', () => {
  let server: TestServer
  let issuer: string
  let svc: CreatedClient

  before(async () => {
    const port = await freePort()
    issuer = `http://127.0.0.1:${port}/auth`
    server = await startServer({ port, args: ['--issuer', issuer] })
    svc = createClient(server.db, 'svc', '--grant', 'client_credentials')
  })
  after(() => server.dispose())

  it('takes a proof whose htu is the token endpoint under the issuer path, and no other', async () => {
    const key = await newKey()
    const send = async (htu: string) =>
      request(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic(svc.client_id, svc.client_secret),
          dpop: await proof(key, 'POST', htu),
        },
        body: form({ grant_type: 'client_credentials' }),
      })
    const ok = await send(`${issuer}/token`)
    assert.equal(ok.status, 200, ok.text)
    assert.equal(ok.json.token_type, 'DPoP')
    assert.equal(errorOf(await send(`${server.url}/token`)), 'invalid_dpop_proof')
  })
})

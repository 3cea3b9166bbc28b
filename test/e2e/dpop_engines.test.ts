/**
 * DPoP (RFC 9449) on PostgreSQL with two nodes sharing one issuer: a proof accepted by one node is
 * refused by the other (its `jti` is recorded in the shared store), an opaque token bound on one node
 * is reported bound by the other's introspection, and a public client's bound refresh token rotates on
 * one node and refuses another key on the other. With `oauth4webapi`'s DPoP handles, as a client does.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as jose from 'jose'
import * as oauth from 'oauth4webapi'
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
  type TestServer,
} from '../helpers/server.js'
import { createTestDatabase, type TestDatabase } from '../store/postgres_databases.js'

const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }
const insecure = { [oauth.allowInsecureRequests]: true }

describe('DPoP on PostgreSQL, two nodes', () => {
  let database: TestDatabase
  let a: TestServer
  let b: TestServer
  let issuer: string
  let svc: CreatedClient
  let opaque: CreatedClient
  let api: CreatedClient

  /** The shared metadata: every endpoint under the issuer, as behind a balancer. */
  const metadata = (): oauth.AuthorizationServer => ({
    issuer,
    token_endpoint: `${issuer}/token`,
    authorization_endpoint: `${issuer}/authorize`,
  })
  /** oauth4webapi options sending the request to `node` (the proof still names the issuer's URL). */
  const via = (node: TestServer, DPoP: oauth.DPoPHandle) => ({
    DPoP,
    ...insecure,
    [oauth.customFetch]: (url: string, init: RequestInit) =>
      fetch(url.replace(issuer, node.url), init),
  })

  before(async () => {
    database = await createTestDatabase()
    const port = await freePort()
    issuer = `http://127.0.0.1:${port}`
    const options = { db: database.url, args: ['--issuer', issuer] }
    a = await startServer({ ...options, port })
    b = await startServer(options)
    svc = createClient(database.url, 'svc', '--grant', 'client_credentials')
    opaque = createClient(
      database.url,
      'svc-opaque',
      ...['--grant', 'client_credentials', '--access-token-format', 'opaque'],
    )
    api = createClient(database.url, 'api', '--grant', 'client_credentials', '--resource-server')
    const spa = cli([
      ...['client', 'create', '--db', database.url, '--id', 'spa', '--public'],
      ...['--grant', 'authorization_code', '--grant', 'refresh_token', '--redirect-uri', REDIRECT],
    ])
    assert.equal(spa.status, 0, spa.stderr)
    createUser(database.url, USER)
  })
  after(async () => {
    await Promise.all([a?.dispose(), b?.dispose()])
    await database?.drop()
  })

  it('refuses on one node a proof the other accepted', async () => {
    const { privateKey, publicKey } = await jose.generateKeyPair('ES256')
    const proof = await new jose.SignJWT({
      jti: crypto.randomUUID(),
      htm: 'POST',
      htu: `${issuer}/token`,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await jose.exportJWK(publicKey) })
      .setIssuedAt()
      .sign(privateKey)
    const send = (node: TestServer) =>
      request(`${node.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic(svc.client_id, svc.client_secret),
          dpop: proof,
        },
        body: 'grant_type=client_credentials',
      })
    const first = await send(a)
    assert.equal(first.status, 200, first.text)
    assert.equal(first.json.token_type, 'DPoP')
    const again = await send(b)
    assert.equal(again.status, 400, again.text)
    assert.equal(again.json.error, 'invalid_dpop_proof')
  })

  it('reports on one node the key of an opaque token bound on the other', async () => {
    const c: oauth.Client = { client_id: opaque.client_id }
    const DPoP = oauth.DPoP(c, await oauth.generateKeyPair('ES256'))
    const answer = await oauth.processClientCredentialsResponse(
      metadata(),
      c,
      await oauth.clientCredentialsGrantRequest(
        metadata(),
        c,
        oauth.ClientSecretBasic(opaque.client_secret),
        {},
        via(a, DPoP),
      ),
    )
    const seen = await b.post('/introspect', { token: answer.access_token }, [
      api.client_id,
      api.client_secret,
    ])
    assert.equal(seen.json.active, true, seen.text)
    assert.equal(seen.json.token_type, 'DPoP')
    assert.deepEqual(seen.json.cnf, { jkt: await DPoP.calculateThumbprint() })
  })

  it('rotates a bound refresh token on one node and refuses another key on the other', async () => {
    const spa: oauth.Client = { client_id: 'spa' }
    const DPoP = oauth.DPoP(spa, await oauth.generateKeyPair('ES256'))
    const p = pkce()
    const landed = await authorize(
      new Browser(a.url),
      { clientId: 'spa', redirectUri: REDIRECT, challenge: p.challenge },
      USER,
    )
    const params = oauth.validateAuthResponse(metadata(), spa, landed, 'st')
    const tokens = await oauth.processAuthorizationCodeResponse(
      metadata(),
      spa,
      await oauth.authorizationCodeGrantRequest(
        metadata(),
        spa,
        oauth.None(),
        params,
        REDIRECT,
        p.verifier,
        via(a, DPoP),
      ),
    )
    const refreshed = await oauth.processRefreshTokenResponse(
      metadata(),
      spa,
      await oauth.refreshTokenGrantRequest(
        metadata(),
        spa,
        oauth.None(),
        tokens.refresh_token!,
        via(b, DPoP),
      ),
    )
    assert.equal(refreshed.token_type, 'dpop')
    const thief = oauth.DPoP(spa, await oauth.generateKeyPair('ES256'))
    const stolen = await oauth.refreshTokenGrantRequest(
      metadata(),
      spa,
      oauth.None(),
      refreshed.refresh_token!,
      via(a, thief),
    )
    assert.equal(stolen.status, 400)
    assert.equal(((await stolen.json()) as { error?: string }).error, 'invalid_grant')
  })
})

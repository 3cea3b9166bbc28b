/**
 * Token exchange (RFC 8693) against a real server with clients made by the real CLI: a user's access
 * token (JWT or opaque) traded for one addressed to another API, driven by hand and by `oauth4webapi`;
 * delegation (`act`, nested); who may exchange what; targets; scope; expiry; and the session's end
 * (`latchkey session revoke`) reaching the exchanged token at introspection and in the verifier SDK.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createVerifier } from '@latchkey/verifier'
import { decodeJwt } from 'jose'
import * as oauth from 'oauth4webapi'
import { newSession } from '../helpers/consistency_gap.js'
import {
  cli,
  createClient,
  createUser,
  sleep,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const JWT = 'urn:ietf:params:oauth:token-type:jwt'
const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }
const ORDERS = 'https://orders.example'
const BILLING = 'https://billing.example'
const LEDGER = 'https://ledger.example'

type Json = Record<string, unknown>

describe('token exchange (RFC 8693)', () => {
  let server: TestServer
  let userId: string
  let web: CreatedClient
  let webOpaque: CreatedClient
  let webShort: CreatedClient
  let gateway: CreatedClient
  let gatewayOpaque: CreatedClient
  let orders: CreatedClient
  let outsider: CreatedClient
  let plain: CreatedClient
  let api: CreatedClient

  before(async () => {
    server = await startServer()
    const code = ['--grant', 'authorization_code', '--redirect-uri', REDIRECT]
    const scope = ['--scope', 'openid orders:read orders:write']
    web = createClient(server.db, 'web', ...code, ...scope)
    webOpaque = createClient(
      server.db,
      'web-opaque',
      ...code,
      ...scope,
      '--access-token-format',
      'opaque',
    )
    webShort = createClient(server.db, 'web-short', ...code, ...scope, '--access-token-ttl', '30')
    const ex = ['--grant', EXCHANGE, '--grant', 'client_credentials']
    gateway = createClient(
      server.db,
      'gateway',
      ...ex,
      '--exchange-audience',
      ORDERS,
      '--exchange-audience',
      BILLING,
    )
    gatewayOpaque = createClient(
      server.db,
      'gateway-opaque',
      ...ex,
      '--exchange-audience',
      ORDERS,
      '--access-token-format',
      'opaque',
    )
    // The orders API: its tokens are addressed to it, and it passes them on to the ledger.
    orders = createClient(
      server.db,
      'orders',
      ...ex,
      '--audience',
      ORDERS,
      '--exchange-audience',
      LEDGER,
    )
    outsider = createClient(server.db, 'outsider', ...ex, '--exchange-audience', LEDGER)
    plain = createClient(server.db, 'plain', '--grant', 'client_credentials')
    api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    userId = createUser(server.db, USER).id
  })
  after(() => server.dispose())

  const creds = (c: CreatedClient): [string, string] => [c.client_id, c.client_secret]
  const login = (c: CreatedClient = web) => newSession(server, c, REDIRECT, USER)
  const exchange = (c: CreatedClient, form: Record<string, string>) =>
    server.post('/token', { grant_type: EXCHANGE, ...form }, creds(c))
  const subject = (token: string, type = ACCESS_TOKEN) => ({
    subject_token: token,
    subject_token_type: type,
  })
  async function exchanged(c: CreatedClient, form: Record<string, string>): Promise<Json> {
    const res = await exchange(c, form)
    assert.equal(res.status, 200, res.text)
    return res.json
  }
  async function refused(
    c: CreatedClient,
    form: Record<string, string>,
    error: string,
  ): Promise<void> {
    const res = await exchange(c, form)
    assert.equal(res.status, 400, res.text)
    assert.equal(res.json.error, error, res.text)
  }
  async function ownToken(c: CreatedClient): Promise<string> {
    const res = await server.post('/token', { grant_type: 'client_credentials' }, creds(c))
    assert.equal(res.status, 200, res.text)
    return res.json.access_token as string
  }
  async function introspect(token: string): Promise<Json> {
    const res = await server.post('/introspect', { token }, creds(api))
    assert.equal(res.status, 200, res.text)
    return res.json
  }

  it('exchanges a user JWT for one addressed to another API, driven by oauth4webapi', async () => {
    const t = await login()
    const insecure = { [oauth.allowInsecureRequests]: true }
    const as = await oauth.processDiscoveryResponse(
      new URL(server.url),
      await oauth.discoveryRequest(new URL(server.url), { algorithm: 'oauth2', ...insecure }),
    )
    assert.ok((as.grant_types_supported ?? []).includes(EXCHANGE))
    const client: oauth.Client = { client_id: gateway.client_id }
    const response = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.ClientSecretBasic(gateway.client_secret),
      EXCHANGE,
      { ...subject(t.access_token), audience: ORDERS, scope: 'orders:read' },
      insecure,
    )
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response)
    assert.equal(result.token_type, 'bearer')
    assert.equal(result.issued_token_type, ACCESS_TOKEN)
    assert.equal(result.scope, 'orders:read')
    assert.equal(result.refresh_token, undefined)
    const before = decodeJwt(t.access_token)
    const after = decodeJwt(result.access_token)
    assert.equal(after.sub, userId)
    assert.equal(after.client_id, 'gateway')
    assert.equal(after.aud, ORDERS)
    assert.equal(after.sid, before.sid)
    assert.equal(after.act, undefined)
    assert.ok(after.exp! <= before.exp!)
    assert.notEqual(after.jti, before.jti)
  })

  it('takes an opaque subject token and issues in the exchanging client’s format', async () => {
    const t = await login(webOpaque)
    assert.ok(!t.access_token.includes('.'))
    const out = await exchanged(gatewayOpaque, { ...subject(t.access_token), audience: ORDERS })
    const token = out.access_token as string
    assert.ok(!token.includes('.'), 'opaque for an opaque client')
    assert.equal(out.scope, 'openid orders:read orders:write', 'the subject’s scope by default')
    const seen = await introspect(token)
    assert.equal(seen.active, true)
    assert.equal(seen.sub, userId)
    assert.equal(seen.client_id, 'gateway-opaque')
    assert.equal(seen.aud, ORDERS)
    assert.equal(seen.sid, (await introspect(t.access_token)).sid)
    // The same opaque subject into a JWT.
    const jwt = decodeJwt(
      (await exchanged(gateway, subject(t.access_token))).access_token as string,
    )
    assert.equal(jwt.aud, ORDERS, 'no audience: the first exchange audience')
    assert.equal(jwt.sid, seen.sid)
  })

  it('accepts the jwt token type for a JWT access token only', async () => {
    const t = await login()
    const out = await exchanged(gateway, { ...subject(t.access_token, JWT), audience: BILLING })
    assert.equal(decodeJwt(out.access_token as string).aud, BILLING)
    const o = await login(webOpaque)
    await refused(
      gateway,
      { ...subject(o.access_token, JWT), audience: BILLING },
      'invalid_request',
    )
  })

  it('records the actor as act, nesting the one before it (RFC 8693 §4.1)', async () => {
    const t = await login()
    const first = await exchanged(gateway, {
      ...subject(t.access_token),
      audience: ORDERS,
      actor_token: await ownToken(gateway),
      actor_token_type: ACCESS_TOKEN,
    })
    const once = decodeJwt(first.access_token as string)
    assert.deepEqual(once.act, { sub: 'gateway' })
    assert.equal(once.sub, userId)
    assert.deepEqual((await introspect(first.access_token as string)).act, { sub: 'gateway' })
    // The orders API (the token's audience) passes it on to the ledger, acting itself.
    const second = await exchanged(orders, {
      ...subject(first.access_token as string),
      audience: LEDGER,
      actor_token: await ownToken(orders),
      actor_token_type: JWT,
    })
    const twice = decodeJwt(second.access_token as string)
    assert.deepEqual(twice.act, { sub: 'orders', act: { sub: 'gateway' } })
    assert.equal(twice.sub, userId)
    assert.equal(twice.aud, LEDGER)
    assert.equal(twice.sid, once.sid)
  })

  it('refuses an actor token of another client, an actor without its type, and act in an opaque token', async () => {
    const t = await login()
    const form = { ...subject(t.access_token), audience: ORDERS }
    const theirs = await ownToken(orders)
    await refused(
      gateway,
      { ...form, actor_token: theirs, actor_token_type: ACCESS_TOKEN },
      'invalid_request',
    )
    await refused(gateway, { ...form, actor_token: await ownToken(gateway) }, 'invalid_request')
    await refused(gateway, { ...form, actor_token_type: ACCESS_TOKEN }, 'invalid_request')
    await refused(
      gatewayOpaque,
      { ...form, actor_token: await ownToken(gatewayOpaque), actor_token_type: ACCESS_TOKEN },
      'invalid_request',
    )
  })

  it('refuses a target outside the client’s exchange audiences, and several targets, with invalid_target', async () => {
    const t = await login()
    const s = subject(t.access_token)
    await refused(gateway, { ...s, audience: LEDGER }, 'invalid_target')
    await refused(gateway, { ...s, resource: LEDGER }, 'invalid_target')
    await refused(gateway, { ...s, audience: ORDERS, resource: BILLING }, 'invalid_target')
    await refused(gateway, { ...s, resource: `${ORDERS}#frag` }, 'invalid_target')
    await refused(gateway, { ...s, audience: '' }, 'invalid_target')
    await refused(plain, s, 'unauthorized_client')
    // Several audiences in one request.
    const body = new URLSearchParams({ grant_type: EXCHANGE, ...s })
    body.append('audience', ORDERS)
    body.append('audience', BILLING)
    const res = await fetch(server.url + '/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization:
          'Basic ' + Buffer.from('gateway:' + gateway.client_secret).toString('base64'),
      },
      body,
    })
    assert.equal(res.status, 400)
    assert.equal(((await res.json()) as Json).error, 'invalid_target')
    // resource alone (an absolute URI) names the target as well as audience does.
    const out = await exchanged(gateway, { ...s, resource: BILLING })
    assert.equal(decodeJwt(out.access_token as string).aud, BILLING)
  })

  it('lets only its audience exchange a token addressed to a specific API', async () => {
    const t = await login()
    const toOrders = await exchanged(gateway, { ...subject(t.access_token), audience: ORDERS })
    const s = subject(toOrders.access_token as string)
    await refused(outsider, { ...s, audience: LEDGER }, 'invalid_request')
    await refused(gateway, { ...s, audience: BILLING }, 'invalid_request')
    const out = await exchanged(orders, { ...s, audience: LEDGER })
    assert.equal(decodeJwt(out.access_token as string).aud, LEDGER)
    // A token for the issuer (the default audience): any client holding the grant.
    await exchanged(outsider, { ...subject(t.access_token), audience: LEDGER })
  })

  it('refuses clients without the grant, public clients, and a public client registration', async () => {
    const t = await login()
    await refused(plain, { ...subject(t.access_token), audience: ORDERS }, 'unauthorized_client')
    const spa = cli([
      ...['client', 'create', '--db', server.db, '--id', 'spa', '--public'],
      ...['--grant', 'authorization_code', '--redirect-uri', REDIRECT],
    ])
    assert.equal(spa.status, 0, spa.stderr)
    const res = await server.post('/token', {
      grant_type: EXCHANGE,
      client_id: 'spa',
      ...subject(t.access_token),
      audience: ORDERS,
    })
    assert.equal(res.status, 400, res.text)
    assert.equal(res.json.error, 'unauthorized_client')
    const pub = cli([
      ...['client', 'create', '--db', server.db, '--id', 'spa2', '--public'],
      ...['--grant', EXCHANGE],
    ])
    assert.notEqual(pub.status, 0)
    assert.match(pub.stderr, /public client/)
  })

  it('keeps the scope within the subject token’s (invalid_scope beyond it)', async () => {
    const t = await login()
    const s = { ...subject(t.access_token), audience: ORDERS }
    await refused(gateway, { ...s, scope: 'orders:read admin' }, 'invalid_scope')
    const narrowed = await exchanged(gateway, { ...s, scope: 'orders:read' })
    assert.equal(narrowed.scope, 'orders:read')
    // Exchanged again (by its audience), it cannot widen back.
    const again = { ...subject(narrowed.access_token as string), audience: LEDGER }
    await refused(orders, { ...again, scope: 'orders:write' }, 'invalid_scope')
    assert.equal((await exchanged(orders, again)).scope, 'orders:read')
  })

  it('refuses unknown, revoked and unsupported subject tokens with invalid_request (RFC 8693 §2.2.2)', async () => {
    const t = await login()
    const s = { audience: ORDERS }
    await refused(gateway, { ...s, ...subject('not-a-token') }, 'invalid_request')
    await refused(gateway, { ...s, ...subject('A'.repeat(43)) }, 'invalid_request')
    await refused(gateway, s, 'invalid_request')
    await refused(gateway, { ...s, subject_token: t.access_token }, 'invalid_request')
    for (const type of [
      'urn:ietf:params:oauth:token-type:refresh_token',
      'urn:ietf:params:oauth:token-type:id_token',
      'urn:ietf:params:oauth:token-type:saml2',
    ]) {
      await refused(gateway, { ...s, ...subject(t.access_token, type) }, 'invalid_request')
    }
    await refused(
      gateway,
      {
        ...s,
        ...subject(t.access_token),
        requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token',
      },
      'invalid_request',
    )
    // A JWT revoked through RFC 7009, and an opaque one.
    const o = await login(webOpaque)
    for (const [token, owner] of [
      [t.access_token, web],
      [o.access_token, webOpaque],
    ] as const) {
      await exchanged(gateway, { ...s, ...subject(token) })
      const res = await server.post('/revoke', { token }, creds(owner))
      assert.equal(res.status, 200, res.text)
      await refused(gateway, { ...s, ...subject(token) }, 'invalid_request')
    }
  })

  it('never outlives the subject token', async () => {
    const t = await login(webShort)
    const before = decodeJwt(t.access_token)
    assert.ok(before.exp! - before.iat! <= 30)
    const out = await exchanged(gateway, { ...subject(t.access_token), audience: ORDERS })
    assert.ok((out.expires_in as number) <= 30, `expires_in ${String(out.expires_in)}`)
    const after = decodeJwt(out.access_token as string)
    assert.equal(after.exp, before.exp)
    assert.equal(after.exp! - after.iat!, out.expires_in)
  })

  it('ends with the subject’s session: latchkey session revoke reaches introspection and the verifier SDK', async () => {
    const t = await login()
    const o = await login(webOpaque)
    const jwt = (await exchanged(gateway, { ...subject(t.access_token), audience: ORDERS }))
      .access_token as string
    const opaque = (
      await exchanged(gatewayOpaque, { ...subject(o.access_token), audience: ORDERS })
    ).access_token as string
    const verifier = createVerifier({
      issuer: server.url,
      audience: ORDERS,
      clientId: api.client_id,
      clientSecret: api.client_secret,
    })
    try {
      await verifier.ready()
      assert.equal((await verifier.verify(jwt)).sub, userId)
      assert.equal((await introspect(jwt)).active, true)
      assert.equal((await introspect(opaque)).active, true)
      for (const sid of [decodeJwt(t.access_token).sid, (await introspect(o.access_token)).sid]) {
        const res = cli(['session', 'revoke', '--db', server.db, '--id', sid as string])
        assert.equal(res.status, 0, res.stderr)
      }
      // The CLI wrote to the database: the server hears of it on its next poll of the revocation
      // events (the contract: within one second). Until then its token cache may still answer.
      const heard = Date.now() + 2000
      for (const token of [jwt, opaque]) {
        for (;;) {
          const answer = await introspect(token)
          if (answer.active === false) {
            assert.deepEqual(answer, { active: false })
            break
          }
          assert.ok(Date.now() < heard, 'introspection still says active 2 s after the revocation')
          await sleep(50)
        }
      }
      const deadline = Date.now() + 5000
      for (;;) {
        const refusal = await verifier.verify(jwt).then(
          () => null,
          (err: unknown) => err,
        )
        if (refusal !== null) break
        assert.ok(Date.now() < deadline, 'the verifier still accepts the exchanged token')
        await sleep(50)
      }
    } finally {
      verifier.close()
    }
  })
})

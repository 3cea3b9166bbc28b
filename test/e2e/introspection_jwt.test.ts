/**
 * JWT introspection responses (RFC 9701) over HTTP against a real server: a resource server that asks
 * for `application/token-introspection+jwt` gets the RFC 7662 answer signed, for itself, verifiable
 * with the JWKS; one that does not gets plain JSON; errors stay JSON. Checked with `jose` and with the
 * client library `oauth4webapi`, which is strict about RFC 9701.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose'
import * as oauth from 'oauth4webapi'
import {
  basic,
  createClient,
  request,
  startServer,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const JWT_TYPE = 'application/token-introspection+jwt'

describe('JWT introspection responses (RFC 9701)', () => {
  let server: TestServer
  let jwtClient: CreatedClient
  let opaqueClient: CreatedClient
  let api: CreatedClient
  let issuer: string
  let algs: string[]
  let jwks: JWTVerifyGetKey

  before(async () => {
    server = await startServer()
    const cc = ['--grant', 'client_credentials', '--scope', 'read write']
    jwtClient = createClient(server.db, 'svc-jwt', ...cc)
    opaqueClient = createClient(server.db, 'svc-opaque', ...cc, '--access-token-format', 'opaque')
    api = createClient(
      server.db,
      'orders-api',
      '--grant',
      'client_credentials',
      '--resource-server',
    )
    const md = (await server.get('/.well-known/oauth-authorization-server')).json
    issuer = md.issuer as string
    algs = md.introspection_signing_alg_values_supported as string[]
    const keys = (await server.get('/.well-known/jwks.json')).json as unknown as JSONWebKeySet
    jwks = createLocalJWKSet(keys)
  })
  after(() => server.dispose())

  async function token(client: CreatedClient): Promise<string> {
    const res = await server.post('/token', { grant_type: 'client_credentials', scope: 'read' }, [
      client.client_id,
      client.client_secret,
    ])
    assert.equal(res.status, 200, res.text)
    return res.json.access_token as string
  }

  /** POST /introspect as `who`, with `accept` when given. */
  function introspect(
    form: Record<string, string>,
    who: CreatedClient = api,
    accept?: string,
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(who.client_id, who.client_secret),
    }
    if (accept !== undefined) headers.accept = accept
    return request(server.url + '/introspect', {
      method: 'POST',
      headers,
      body: new URLSearchParams(form).toString(),
    })
  }

  /** Verifies a JWT answer for `who` and returns its `token_introspection` claim. */
  async function verified(
    res: HttpResponse,
    who: CreatedClient = api,
  ): Promise<Record<string, unknown>> {
    assert.equal(res.status, 200, res.text)
    assert.equal(res.headers['content-type'], JWT_TYPE)
    assert.equal(res.headers['cache-control'], 'no-store')
    const { payload, protectedHeader } = await jwtVerify(res.text, jwks, {
      typ: 'token-introspection+jwt',
      issuer,
      audience: who.client_id,
      algorithms: algs,
    })
    assert.equal(typeof protectedHeader.kid, 'string')
    assert.equal(payload.aud, who.client_id)
    assert.ok(Math.abs((payload.iat ?? 0) - Date.now() / 1000) < 60, 'iat is now')
    // RFC 9701 §5: nothing at the top level that would let it pass for an access token.
    assert.deepEqual(Object.keys(payload).sort(), ['aud', 'iat', 'iss', 'token_introspection'])
    return payload.token_introspection as Record<string, unknown>
  }

  it('signs the very answer plain JSON gives, for a live token of either format', async () => {
    for (const client of [jwtClient, opaqueClient]) {
      const t = await token(client)
      const plain = await introspect({ token: t })
      assert.equal(plain.json.active, true)
      assert.equal(plain.json.client_id, client.client_id)
      const signed = await verified(await introspect({ token: t }, api, JWT_TYPE))
      assert.deepEqual(signed, plain.json)
    }
  })

  it('addresses the answer to the client that asked, whoever the token belongs to', async () => {
    const t = await token(jwtClient)
    const own = await verified(await introspect({ token: t }, jwtClient, JWT_TYPE), jwtClient)
    assert.equal(own.active, true)
    const res = await introspect({ token: t }, opaqueClient, JWT_TYPE)
    // Not a resource server, not its token: inactive, signed for it.
    assert.deepEqual(await verified(res, opaqueClient), { active: false })
    await assert.rejects(
      jwtVerify(res.text, jwks, { typ: 'token-introspection+jwt', audience: api.client_id }),
      (err: Error & { code?: string }) => err.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED',
    )
  })

  it('signs exactly {"active": false} for unknown and revoked tokens of either format', async () => {
    assert.deepEqual(await verified(await introspect({ token: 'nope' }, api, JWT_TYPE)), {
      active: false,
    })
    for (const client of [jwtClient, opaqueClient]) {
      const t = await token(client)
      const revoked = await server.post('/revoke', { token: t }, [
        client.client_id,
        client.client_secret,
      ])
      assert.equal(revoked.status, 200)
      assert.deepEqual(await verified(await introspect({ token: t }, api, JWT_TYPE)), {
        active: false,
      })
    }
  })

  it('gives the JWT to a client that lists its type, with or without weights, and JSON otherwise', async () => {
    const t = await token(jwtClient)
    const wantsJwt = [
      JWT_TYPE,
      `application/json, ${JWT_TYPE}`,
      `application/json;q=0.9, ${JWT_TYPE};q=0.1`,
      `${JWT_TYPE}; q=1`,
    ]
    for (const accept of wantsJwt) {
      const res = await introspect({ token: t }, api, accept)
      assert.equal((await verified(res)).active, true, accept)
      assert.equal(res.headers.vary, 'accept')
    }
    for (const accept of [
      undefined,
      'application/json',
      '*/*',
      'application/*',
      `${JWT_TYPE};q=0`,
    ]) {
      const res = await introspect({ token: t }, api, accept)
      assert.equal(res.status, 200)
      assert.match(String(res.headers['content-type']), /^application\/json/, String(accept))
      assert.equal(res.json.active, true)
      assert.equal(res.headers['cache-control'], 'no-store')
    }
  })

  it('answers errors as plain JSON even to a client that asks for a JWT', async () => {
    const missing = await introspect({}, api, JWT_TYPE)
    assert.equal(missing.status, 400)
    assert.match(String(missing.headers['content-type']), /^application\/json/)
    assert.equal(missing.json.error, 'invalid_request')
    const wrong = await introspect({ token: 'x' }, { ...api, client_secret: 'wrong' }, JWT_TYPE)
    assert.equal(wrong.status, 401)
    assert.match(String(wrong.headers['content-type']), /^application\/json/)
    assert.equal(wrong.json.error, 'invalid_client')
  })

  it('is accepted by oauth4webapi, which checks typ, iss, aud, iat and alg, then the signature', async () => {
    // Plain http on loopback in tests: the library requires https unless told otherwise.
    const insecure = { [oauth.allowInsecureRequests]: true }
    const as = await oauth.processDiscoveryResponse(
      new URL(issuer),
      await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oauth2', ...insecure }),
    )
    const client: oauth.Client = { client_id: api.client_id }
    const auth = oauth.ClientSecretBasic(api.client_secret)
    const ask = async (t: string): Promise<oauth.IntrospectionResponse> => {
      const response = await oauth.introspectionRequest(as, client, auth, t, {
        requestJwtResponse: true,
        ...insecure,
      })
      assert.equal(response.headers.get('content-type'), JWT_TYPE)
      const answer = await oauth.processIntrospectionResponse(as, client, response)
      await oauth.validateApplicationLevelSignature(as, response, insecure)
      return answer
    }
    for (const owner of [jwtClient, opaqueClient]) {
      const t = await token(owner)
      const live = await ask(t)
      assert.equal(live.active, true)
      assert.equal(live.client_id, owner.client_id)
      assert.equal(live.token_type, 'Bearer')
      await server.post('/revoke', { token: t }, [owner.client_id, owner.client_secret])
      assert.deepEqual({ ...(await ask(t)) }, { active: false })
    }
    assert.deepEqual({ ...(await ask('unknown')) }, { active: false })
  })

  it('issues a response that is not an access token: introspected, it is inactive', async () => {
    const res = await introspect({ token: await token(jwtClient) }, api, JWT_TYPE)
    assert.equal(decodeProtectedHeader(res.text).typ, 'token-introspection+jwt')
    assert.deepEqual((await introspect({ token: res.text })).json, { active: false })
  })
})
